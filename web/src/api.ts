// The one typed client for the Keyledger HTTP API (shared/API.md). Every request the
// dashboard makes goes through `request` below: same-origin cookies, the CSRF header on
// mutations, and problem+json errors turned into ApiError.

import type { components } from './api.gen';

export const API_BASE = '/api/v1';
const CSRF_COOKIE = 'keyledger_csrf';

// The wire types are generated from the served OpenAPI document (httpapi/openapi.json)
// by `npm run gen:api` into api.gen.ts; the names below are the ones the UI uses. Never
// write a response shape by hand here: change the document and generate again
// (src/api.gen.test.ts fails while api.gen.ts is stale).
type Schemas = components['schemas'];

export type EnvSlug = Schemas['Environment'];
export type Role = Schemas['Role'];
export type RevealPolicy = Schemas['RevealPolicy'];

export interface EnvironmentInfo {
  slug: EnvSlug;
  name: string;
  /** The column header used in the all-environments grid. */
  short: string;
}

export const ENVIRONMENTS: readonly EnvironmentInfo[] = [
  { slug: 'development', name: 'Development', short: 'Dev' },
  { slug: 'staging', name: 'Staging', short: 'Staging' },
  { slug: 'production', name: 'Production', short: 'Prod' },
];

export function environmentName(slug: string): string {
  return ENVIRONMENTS.find((e) => e.slug === slug)?.name ?? slug;
}

/**
 * Role priorities as API.md fixes them. Typed by the generated Role, so a role added to
 * the document does not compile until it has a priority here.
 */
export const ROLE_PRIORITY: Readonly<Record<Role, number>> = { viewer: 10, editor: 20, admin: 100, owner: 200 };
/** A platform super-admin counts as this in every organization. */
export const SUPERADMIN_PRIORITY = 1000;
/** Members, service tokens, org settings and the audit trail need at least this. */
export const ADMIN_PRIORITY = ROLE_PRIORITY.admin;

export type User = Schemas['User'];
export type Membership = Schemas['Membership'];
export type Me = Schemas['Me'];
/** An organization with the caller's role (null for a super-admin who is not a member). */
export type Organization = Schemas['Organization'];
export type EnvironmentValue = Schemas['EnvState'];
export type SecretOwner = Schemas['Owner'];
export type SecretRow = Schemas['SecretRow'];

export interface Page<T> {
  items: T[];
  next_cursor?: string | null;
}

export type NewSecret = Schemas['CreateSecretRequest'];
export type SecretPatch = Schemas['UpdateSecretRequest'];
export type ValuesPatch = NonNullable<SecretPatch['values']>;
export type RevealedValue = Schemas['Revealed'];
export type SecretVersion = Schemas['Version'];
export type VersionAction = SecretVersion['action'];
export type AuditItem = Schemas['AuditItem'];

export interface AuditFilter {
  actor?: string;
  action?: string;
  secret_id?: string;
  env?: string;
  from?: string;
  to?: string;
}

export type AuditVerification = Schemas['AuditVerification'];
export type AccessReview = Schemas['AccessReview'];
export type AccessSubject = Schemas['AccessSubject'];
export type AccessAction = AccessSubject['can'][number];
export type Member = Schemas['Member'];
export type ServiceToken = Schemas['ServiceToken'];
/** One version of the organization's data key: active seals new data, retired still opens. */
export type DataKey = Schemas['DataKey'];
export type CreatedToken = Schemas['IssuedToken'];
/** A new service token: the listed fields and the token, shown this once. */
export type CreatedServiceToken = ServiceToken & { token: string };
/** A change notice from the SSE feed: never a value or a mask. */
export type ChangeNotice = Schemas['ChangeNotice'];
export type Webhook = Schemas['Webhook'];
export type CreatedWebhook = Webhook & { signing_secret: string };
export type WebhookDelivery = Schemas['WebhookDelivery'];
export type FieldError = Schemas['FieldError'];

/** An API failure, carrying the problem+json fields so the UI can show `detail` as is. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly detail: string;
  readonly title: string;
  readonly errors: FieldError[];

  constructor(init: { status: number; code: string; detail: string; title?: string; errors?: FieldError[] }) {
    super(init.detail);
    this.name = 'ApiError';
    this.status = init.status;
    this.code = init.code;
    this.detail = init.detail;
    this.title = init.title ?? init.detail;
    this.errors = init.errors ?? [];
  }

  /** The message for one field of a 422, if the server named it. */
  fieldError(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }
}

/** The user-facing sentence for any thrown value: the problem's `detail` when there is one. */
export function errorMessage(err: unknown): string {
  if (err instanceof ApiError) return err.detail;
  if (err instanceof Error && err.message) return err.message;
  return 'Something went wrong. Please try again.';
}

export function readCookie(name: string, cookies: string = document.cookie): string | undefined {
  for (const part of cookies.split(';')) {
    const [k, ...rest] = part.trim().split('=');
    if (k === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';
type Query = Record<string, string | number | undefined | null>;

interface RequestOptions {
  body?: unknown;
  query?: Query;
  signal?: AbortSignal;
  /** Sent as Idempotency-Key so that a retried create changes nothing. */
  idempotencyKey?: string;
}

export function buildUrl(path: string, query?: Query): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const qs = params.toString();
  return `${API_BASE}${path}${qs ? `?${qs}` : ''}`;
}

async function problemFrom(res: Response): Promise<ApiError> {
  let body: Record<string, unknown> = {};
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy error page, say): fall back to the status line below.
  }
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const errors = Array.isArray(body.errors) ? (body.errors as FieldError[]) : [];
  return new ApiError({
    status: res.status,
    code: str(body.code) ?? (res.status === 401 ? 'unauthenticated' : 'http_error'),
    detail: str(body.detail) ?? str(body.title) ?? `The server answered ${res.status} ${res.statusText}`.trim(),
    title: str(body.title),
    errors,
  });
}

/** Listeners told about every 401, so the app can send the user back to the login page. */
const unauthenticatedListeners = new Set<() => void>();
export function onUnauthenticated(listener: () => void): () => void {
  unauthenticatedListeners.add(listener);
  return () => unauthenticatedListeners.delete(listener);
}

export function newIdempotencyKey(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export async function request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET') {
    const csrf = readCookie(CSRF_COOKIE);
    if (csrf) headers['X-CSRF-Token'] = csrf;
  }
  if (opts.idempotencyKey) headers['Idempotency-Key'] = opts.idempotencyKey;
  let res: Response;
  try {
    res = await fetch(buildUrl(path, opts.query), {
      method,
      headers,
      credentials: 'same-origin',
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiError({ status: 0, code: 'network', detail: 'Keyledger cannot be reached. Check your connection.' });
  }
  if (!res.ok) {
    const problem = await problemFrom(res);
    if (res.status === 401 && !path.startsWith('/auth/')) unauthenticatedListeners.forEach((l) => l());
    throw problem;
  }
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Fetches every page of a cursor-paginated list (bounded, to keep the grid responsive). */
async function allPages<T>(path: string, query: Query, maxPages = 20): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const page = await request<Page<T>>('GET', path, { query: { ...query, cursor } });
    items.push(...page.items);
    if (!page.next_cursor) break;
    cursor = page.next_cursor;
  }
  return items;
}

const org = (orgId: string) => `/orgs/${encodeURIComponent(orgId)}`;
const secret = (orgId: string, id: string) => `${org(orgId)}/secrets/${encodeURIComponent(id)}`;

export const api = {
  // Authentication
  me: () => request<Me>('GET', '/me'),
  login: (email: string, password: string) =>
    request<Schemas['LoginResponse']>('POST', '/auth/login', { body: { email, password } }),
  signup: (name: string, email: string, password: string) =>
    request<{ user: User }>('POST', '/auth/signup', { body: { email, password, name } }),
  logout: () => request<void>('POST', '/auth/logout'),

  // Organizations
  listOrgs: () => request<Page<Organization>>('GET', '/orgs'),
  getOrg: (orgId: string) => request<Organization>('GET', org(orgId)),
  createOrg: (name: string) =>
    request<Organization>('POST', '/orgs', { body: { name }, idempotencyKey: newIdempotencyKey() }),
  updateOrg: (orgId: string, patch: { name?: string; reveal_policy?: RevealPolicy }) =>
    request<Organization>('PATCH', org(orgId), { body: patch }),
  /** Crypto-shreds the organization; confirm is its exact name. */
  eraseOrg: (orgId: string, confirm: string) =>
    request<void>('DELETE', org(orgId), { body: { confirm } satisfies Schemas['EraseOrgRequest'], idempotencyKey: newIdempotencyKey() }),

  // Data keys
  listDataKeys: (orgId: string) => request<{ items: DataKey[] }>('GET', `${org(orgId)}/keys`),
  rotateDataKey: (orgId: string) =>
    request<{ version: number }>('POST', `${org(orgId)}/keys/rotate`, { idempotencyKey: newIdempotencyKey() }),

  // Members
  listMembers: (orgId: string) => request<Page<Member>>('GET', `${org(orgId)}/members`),
  addMember: (orgId: string, email: string, role: Role) =>
    request<Member>('POST', `${org(orgId)}/members`, { body: { email, role } }),
  changeRole: (orgId: string, userId: string, role: Role) =>
    request<Member>('PATCH', `${org(orgId)}/members/${encodeURIComponent(userId)}`, { body: { role } }),
  removeMember: (orgId: string, userId: string) =>
    request<void>('DELETE', `${org(orgId)}/members/${encodeURIComponent(userId)}`),

  // Secrets
  listSecrets: (orgId: string, params: { env?: EnvSlug; q?: string }) =>
    allPages<SecretRow>(`${org(orgId)}/secrets`, { env: params.env, q: params.q, limit: 1000 }),
  getSecret: (orgId: string, id: string) => request<SecretRow>('GET', secret(orgId, id)),
  createSecret: (orgId: string, body: NewSecret, idempotencyKey: string) =>
    request<SecretRow>('POST', `${org(orgId)}/secrets`, { body, idempotencyKey }),
  updateSecret: (orgId: string, id: string, patch: SecretPatch) =>
    request<SecretRow>('PATCH', secret(orgId, id), { body: patch }),
  deleteSecret: (orgId: string, id: string, env?: EnvSlug) =>
    request<void>('DELETE', secret(orgId, id), { query: { env } }),
  revealSecret: (orgId: string, id: string, env: EnvSlug) =>
    request<RevealedValue>('POST', `${secret(orgId, id)}/reveal`, { body: { env } }),
  listVersions: (orgId: string, id: string, env?: EnvSlug) =>
    request<Page<SecretVersion>>('GET', `${secret(orgId, id)}/versions`, { query: { env } }),
  rollback: (orgId: string, id: string, env: EnvSlug, version: number) =>
    request<SecretRow>('POST', `${secret(orgId, id)}/rollback`, { body: { env, version } }),

  // Audit trail
  listAudit: (orgId: string, filter: AuditFilter, cursor?: string, limit = 50) =>
    request<Page<AuditItem>>('GET', `${org(orgId)}/audit`, { query: { ...filter, cursor, limit } }),
  auditExportUrl: (orgId: string, filter: AuditFilter) =>
    buildUrl(`${org(orgId)}/audit/export`, { ...filter, format: 'csv' }),
  verifyAudit: (orgId: string) => request<AuditVerification>('GET', `${org(orgId)}/audit/verify`),
  /** Who could do what to a secret at an instant (default now), from the log; owners and admins. */
  accessReview: (orgId: string, secretId: string, at?: string) =>
    request<AccessReview>('GET', `${org(orgId)}/access`, { query: { secret_id: secretId, at } }),

  // Service tokens
  listServiceTokens: (orgId: string) => request<Page<ServiceToken>>('GET', `${org(orgId)}/service-tokens`),
  createServiceToken: (orgId: string, body: Schemas['CreateServiceTokenRequest']) =>
    request<CreatedServiceToken>('POST', `${org(orgId)}/service-tokens`, { body, idempotencyKey: newIdempotencyKey() }),
  revokeServiceToken: (orgId: string, id: string) =>
    request<void>('DELETE', `${org(orgId)}/service-tokens/${encodeURIComponent(id)}`),

  // Webhooks
  listWebhooks: (orgId: string) => request<Page<Webhook>>('GET', `${org(orgId)}/webhooks`),
  createWebhook: (orgId: string, body: Schemas['CreateWebhookRequest']) =>
    request<CreatedWebhook>('POST', `${org(orgId)}/webhooks`, { body, idempotencyKey: newIdempotencyKey() }),
  deleteWebhook: (orgId: string, id: string) => request<void>('DELETE', `${org(orgId)}/webhooks/${encodeURIComponent(id)}`),
  listWebhookDeliveries: (orgId: string, id: string) =>
    request<Page<WebhookDelivery>>('GET', `${org(orgId)}/webhooks/${encodeURIComponent(id)}/deliveries`),
  redeliverWebhook: (orgId: string, id: string, delivery: string) =>
    request<WebhookDelivery>(
      'POST',
      `${org(orgId)}/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(delivery)}/redeliver`,
    ),

  /** The URL of the org's change feed (text/event-stream). */
  changesUrl: (orgId: string) => buildUrl(`${org(orgId)}/changes`),
};

/** Downloads a GET endpoint's body as a file, with the session cookie; errors become ApiError. */
export async function downloadFile(url: string, filename: string): Promise<void> {
  const res = await fetch(url, { credentials: 'same-origin' });
  if (!res.ok) throw await problemFrom(res);
  const blob = await res.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 1000);
}
