/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';

// dist/.gitkeep is committed so that `go:embed all:dist` compiles before the UI is built.
// Vite empties dist/ on every build; this puts the placeholder back afterwards.
const keepDistPlaceholder = {
  name: 'keyledger-keep-dist-placeholder',
  closeBundle() {
    writeFileSync(fileURLToPath(new URL('./dist/.gitkeep', import.meta.url)), '');
  },
};

// AG Grid's CSS themes inline their icon font and a few SVGs as data: URLs, which a strict
// Content-Security-Policy (font-src 'self'; img-src 'self') refuses. This writes each one to
// a file and points the CSS at it, so Vite emits them as ordinary same-origin assets.
const agGridDataUrlsAsFiles: Plugin = {
  name: 'keyledger-ag-grid-data-urls-as-files',
  enforce: 'pre',
  transform(code, id) {
    if (!/ag-grid-community[\\/]styles[\\/].*\.css$/.test(id.split('?')[0] ?? '')) return null;
    const outDir = fileURLToPath(new URL('./node_modules/.cache/keyledger-ag-grid/', import.meta.url));
    mkdirSync(outDir, { recursive: true });
    const dataUrl = /url\(\s*(["']?)data:(font\/woff2|image\/svg\+xml)(;charset=utf-8)?(;base64)?,(.*?)\1\s*\)/g;
    return code.replace(dataUrl, (_all, _quote, mime: string, _charset, base64: string | undefined, payload: string) => {
      const bytes = base64 ? Buffer.from(payload, 'base64') : Buffer.from(decodeURIComponent(payload.replace(/%22/g, '"')), 'utf8');
      const ext = mime === 'font/woff2' ? 'woff2' : 'svg';
      const file = resolve(outDir, `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.${ext}`);
      writeFileSync(file, bytes);
      return `url("${relative(dirname(id.split('?')[0] ?? id), file).split('\\').join('/')}")`;
    });
  },
};

// The dev server proxies the API to a locally running `keyledger serve --dev`
// so that cookies stay same-origin, exactly as when the Go binary serves the build.
const backend = process.env.KEYLEDGER_DEV_BACKEND ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [agGridDataUrlsAsFiles, react(), keepDistPlaceholder],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 2000,
    // Inline nothing: a strict Content-Security-Policy may refuse data: URLs.
    assetsInlineLimit: 0,
  },
  server: {
    port: 5173,
    proxy: {
      '/api': { target: backend, changeOrigin: false },
      '/healthz': { target: backend, changeOrigin: false },
    },
  },
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test-setup.ts'],
    restoreMocks: true,
  },
});
