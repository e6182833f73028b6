// End-to-end tests of the dashboard against the real Keyledger server (embedded NATS, real
// Postgres), in Debian's headless Chromium. global-setup.ts starts ../bin/keyledger itself.
import { defineConfig } from '@playwright/test';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export default defineConfig({
  testDir: '.',
  testMatch: '**/*.spec.ts',
  globalSetup: './global-setup.ts',
  outputDir: '../test-results',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: process.env.KEYLEDGER_E2E_WORKERS ? Number(process.env.KEYLEDGER_E2E_WORKERS) : 2,
  retries: 0,
  reporter: [['list']],
  use: {
    // global-setup.ts sets KEYLEDGER_E2E_URL once the server answers /healthz.
    baseURL: process.env.KEYLEDGER_E2E_URL,
    viewport: { width: 1280, height: 800 },
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: process.env.KEYLEDGER_CHROMIUM ?? process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: CHROMIUM_ARGS,
    },
  },
});
