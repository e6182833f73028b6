// Shared helpers for the end-to-end tests: an API client to arrange data quickly (the UI is
// what is under test, not the set-up), users and organizations made fresh for every test,
// and UI steps such as logging in.
import { randomBytes } from 'node:crypto';
import { expect, request, test as base, type APIRequestContext, type Page } from '@playwright/test';
import { expectAccessible } from './axe';

export const PASSWORD = 'correct-horse-battery-staple';

export function serverUrl(): string {
  const url = process.env.KEYLEDGER_E2E_URL;
  if (!url) throw new Error('KEYLEDGER_E2E_URL is not set: global-setup.ts did not start the server');
  return url;
}

export function uniq(prefix = ''): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export type Env = 'development' | 'staging' | 'production';
export type Role = 'owner' | 'admin' | 'editor' | 'viewer';

export interface UserInfo {
  id: string;
  email: string;
  name: string;
}

export interface SecretRow {
  id: string;
  name: string;
  description: string;
  version: number;
  owner: UserInfo;
  environments: Record<Env, { set: boolean; version?: number; mask?: string }>;
  permissions: { reveal: boolean; modify: boolean; delete: boolean };
}

/** A bearer-token API client for one user, used to arrange test data. */
export class Api {
  private constructor(
    readonly ctx: APIRequestContext,
    readonly user: UserInfo,
  ) {}

  static async login(email: string, password: string): Promise<Api> {
    const anon = await request.newContext({ baseURL: serverUrl() });
    const res = await anon.post('/api/v1/auth/login', { data: { email, password } });
    expect(res.status(), await res.text()).toBe(200);
    const body = (await res.json()) as { user: UserInfo; token: string };
    await anon.dispose();
    const ctx = await request.newContext({ baseURL: serverUrl(), extraHTTPHeaders: { Authorization: `Bearer ${body.token}` } });
    return new Api(ctx, body.user);
  }

  /** Signs up a new user (sign-up is open in --dev) and logs them in. */
  static async signup(name: string): Promise<Api> {
    const email = `${uniq(name.toLowerCase().replace(/\W+/g, '-') + '-')}@e2e.keyledger.test`;
    const anon = await request.newContext({ baseURL: serverUrl() });
    const res = await anon.post('/api/v1/auth/signup', { data: { email, password: PASSWORD, name } });
    expect(res.status(), await res.text()).toBe(201);
    await anon.dispose();
    return Api.login(email, PASSWORD);
  }

  static async admin(): Promise<Api> {
    return Api.login(process.env.KEYLEDGER_E2E_ADMIN_EMAIL ?? '', process.env.KEYLEDGER_E2E_ADMIN_PASSWORD ?? '');
  }

  async call<T>(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, data?: unknown, expected?: number): Promise<T> {
    const res = await this.ctx.fetch(`/api/v1${path}`, { method, data });
    const text = await res.text();
    if (expected !== undefined) expect(res.status(), `${method} ${path}: ${text}`).toBe(expected);
    else expect(res.ok(), `${method} ${path}: ${res.status()} ${text}`).toBeTruthy();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  createOrg(name = uniq('Org ')) {
    return this.call<{ id: string; name: string }>('POST', '/orgs', { name }, 201);
  }

  addMember(orgId: string, email: string, role: Role) {
    return this.call('POST', `/orgs/${orgId}/members`, { email, role }, 201);
  }

  createSecret(orgId: string, name: string, values: Partial<Record<Env, string>>, description?: string) {
    return this.call<SecretRow>('POST', `/orgs/${orgId}/secrets`, { name, description, values }, 201);
  }

  updateSecret(orgId: string, id: string, patch: Record<string, unknown>) {
    return this.call<SecretRow>('PATCH', `/orgs/${orgId}/secrets/${id}`, patch, 200);
  }

  getSecret(orgId: string, id: string) {
    return this.call<SecretRow>('GET', `/orgs/${orgId}/secrets/${id}`);
  }

  listSecrets(orgId: string) {
    return this.call<{ items: SecretRow[] }>('GET', `/orgs/${orgId}/secrets`);
  }

  async dispose() {
    await this.ctx.dispose();
  }
}

export async function logIn(page: Page, email: string, password = PASSWORD): Promise<void> {
  await page.goto('/login');
  await page.getByRole('textbox', { name: 'Email' }).fill(email);
  await page.getByRole('textbox', { name: 'Password' }).fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('navigation', { name: 'Main' })).toBeVisible();
}

export async function openSecrets(page: Page, orgId: string, view: 'development' | 'staging' | 'production' | 'all' = 'development') {
  await page.goto(`/orgs/${orgId}/secrets?env=${view}`);
  await expect(page.getByRole('grid')).toBeVisible();
}

export async function chooseEnvironment(page: Page, label: 'Development' | 'Staging' | 'Production' | 'All environments') {
  await page.getByRole('combobox', { name: 'Environment' }).selectOption({ label });
}

/** The grid row of a secret, found by its name cell. */
export function secretRow(page: Page, name: string) {
  return page.getByRole('row').filter({ has: page.getByRole('gridcell', { name, exact: true }) });
}

interface Fixtures {
  /** A fresh user who owns a fresh organization. */
  owner: Api;
  org: { id: string; name: string };
}

export const test = base.extend<Fixtures>({
  baseURL: async ({}, use) => use(serverUrl()),
  // Every test ends with an axe check of the page where it stopped, so each view and state
  // the suite reaches stays free of critical and serious WCAG 2.2 A/AA violations (UI.md).
  page: async ({ page }, use, testInfo) => {
    await use(page);
    if (testInfo.status !== testInfo.expectedStatus || page.isClosed()) return;
    if (!page.url().startsWith(serverUrl())) return;
    await expectAccessible(page, `the page where "${testInfo.title}" ended`);
  },
  owner: async ({}, use) => {
    const api = await Api.signup('Olivia Owner');
    await use(api);
    await api.dispose();
  },
  org: async ({ owner }, use) => {
    await use(await owner.createOrg(uniq('Acme ')));
  },
});

export { expect };
