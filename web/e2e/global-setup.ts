// Starts the built server for the end-to-end run: `../bin/keyledger serve --dev` on a free
// loopback port with a throwaway data dir (and, without KEYLEDGER_DATABASE_URL, its own
// throwaway Postgres), waits for GET /healthz = 200, and stops it with SIGTERM afterwards.
// Set KEYLEDGER_E2E_URL (with KEYLEDGER_E2E_ADMIN_EMAIL/PASSWORD) to use a running server.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const HEALTH_TIMEOUT_MS = 240_000;

function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === 'object' ? ok(addr.port) : fail(new Error('no port'))));
    });
  });
}

async function waitForHealth(url: string, server: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`keyledger serve exited with ${server.exitCode}; see ${logPath}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  throw new Error(`keyledger serve did not answer /healthz within ${HEALTH_TIMEOUT_MS / 1000}s; see ${logPath}`);
}

async function stop(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((r) => server.once('exit', () => r()));
  server.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000));
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    server.kill('SIGKILL');
    await exited;
  }
}

export default async function globalSetup(): Promise<(() => Promise<void>) | void> {
  if (process.env.KEYLEDGER_E2E_URL) {
    if (!process.env.KEYLEDGER_E2E_ADMIN_EMAIL) throw new Error('KEYLEDGER_E2E_URL is set: set KEYLEDGER_E2E_ADMIN_EMAIL and KEYLEDGER_E2E_ADMIN_PASSWORD too');
    return;
  }
  const bin = resolve(process.env.KEYLEDGER_BIN ?? join(here, '..', '..', 'bin', 'keyledger'));
  if (!existsSync(bin)) {
    throw new Error(`${bin} is missing: run "npm run build" in web/, then "go build -o bin/keyledger ./cmd/keyledger" at the repository root`);
  }
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(join(tmpdir(), 'keyledger-e2e-'));
  const artifacts = join(here, '.artifacts');
  mkdirSync(artifacts, { recursive: true });
  const logPath = join(artifacts, 'server.log');
  const log = createWriteStream(logPath);
  const adminEmail = 'admin@e2e.keyledger.test';
  const adminPassword = `e2e-${randomBytes(12).toString('hex')}`;

  const server = spawn(bin, ['serve', '--dev', '--addr', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    env: {
      ...process.env,
      KEYLEDGER_BOOTSTRAP_ADMIN_EMAIL: adminEmail,
      KEYLEDGER_BOOTSTRAP_ADMIN_PASSWORD: adminPassword,
      KEYLEDGER_SIGNUP: 'open',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server.stdout?.pipe(log);
  server.stderr?.pipe(log);

  try {
    await waitForHealth(url, server, logPath);
    const index = await fetch(`${url}/`);
    const html = await index.text();
    if (!html.includes('id="root"')) {
      throw new Error(`${bin} serves no dashboard at / (status ${index.status}): build web/ before the binary`);
    }
  } catch (err) {
    await stop(server);
    rmSync(dataDir, { recursive: true, force: true });
    throw err;
  }

  process.env.KEYLEDGER_E2E_URL = url;
  process.env.KEYLEDGER_E2E_ADMIN_EMAIL = adminEmail;
  process.env.KEYLEDGER_E2E_ADMIN_PASSWORD = adminPassword;

  return async () => {
    await stop(server);
    log.end();
    rmSync(dataDir, { recursive: true, force: true });
  };
}
