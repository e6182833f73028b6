import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, ApiError, buildUrl, errorMessage, readCookie } from './api';
import { mockFetch } from './test-utils';

describe('api client', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    document.cookie = 'keyledger_csrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT';
  });

  it('reads the CSRF cookie', () => {
    expect(readCookie('keyledger_csrf', 'a=1; keyledger_csrf=tok%3D; b=2')).toBe('tok=');
    expect(readCookie('missing', 'a=1')).toBeUndefined();
  });

  it('sends X-CSRF-Token on mutations only, with same-origin credentials', async () => {
    document.cookie = 'keyledger_csrf=csrf123';
    const calls = mockFetch((c) => (c.method === 'GET' ? { body: { items: [] } } : { status: 201, body: { id: 'x' } }));
    await api.listOrgs();
    await api.createOrg('Acme');
    expect(calls[0]?.headers['X-CSRF-Token']).toBeUndefined();
    expect(calls[1]?.headers['X-CSRF-Token']).toBe('csrf123');
    expect(calls[1]?.headers['Idempotency-Key']).toBeTruthy();
    expect(calls[1]?.url).toBe('/api/v1/orgs');
    const fetchMock = vi.mocked(fetch);
    expect(fetchMock.mock.calls[0]?.[1]?.credentials).toBe('same-origin');
  });

  it('turns problem+json into an ApiError with detail, code, status and errors', async () => {
    mockFetch(() => ({
      status: 422,
      body: { type: 't', title: 'Invalid', status: 422, detail: 'A field is invalid.', code: 'validation_failed', errors: [{ field: 'name', message: 'too long' }] },
    }));
    const err = await api.createSecret('o', { name: 'X' }, 'k').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect([e.status, e.code, e.detail]).toEqual([422, 'validation_failed', 'A field is invalid.']);
    expect(e.fieldError('name')).toBe('too long');
    expect(errorMessage(e)).toBe('A field is invalid.');
  });

  it('returns undefined for 204', async () => {
    mockFetch(() => ({ status: 204 }));
    await expect(api.deleteSecret('o', 's', 'production')).resolves.toBeUndefined();
  });

  it('builds query strings without empty parameters', () => {
    expect(buildUrl('/orgs/o/secrets', { env: 'production', q: '', cursor: undefined, limit: 10 })).toBe('/api/v1/orgs/o/secrets?env=production&limit=10');
  });

  it('pages through the secrets list', async () => {
    const calls = mockFetch((c) =>
      c.url.includes('cursor=c2') ? { body: { items: [{ id: '2' }], next_cursor: null } } : { body: { items: [{ id: '1' }], next_cursor: 'c2' } },
    );
    const rows = await api.listSecrets('o', { env: 'staging', q: 'key' });
    expect(rows.map((r) => r.id)).toEqual(['1', '2']);
    expect(calls[0]?.url).toContain('env=staging');
    expect(calls[0]?.url).toContain('q=key');
  });
});
