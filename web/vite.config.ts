/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// dist/.gitkeep is committed so that `go:embed all:dist` compiles before the UI is built.
// Vite empties dist/ on every build; this puts the placeholder back afterwards.
const keepDistPlaceholder = {
  name: 'keyledger-keep-dist-placeholder',
  closeBundle() {
    writeFileSync(fileURLToPath(new URL('./dist/.gitkeep', import.meta.url)), '');
  },
};

// The dev server proxies the API to a locally running `keyledger serve --dev`
// so that cookies stay same-origin, exactly as when the Go binary serves the build.
const backend = process.env.KEYLEDGER_DEV_BACKEND ?? 'http://127.0.0.1:8080';

export default defineConfig({
  plugins: [react(), keepDistPlaceholder],
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
