import { describe, expect, it } from 'vitest';
import { auditFilterFrom, EMPTY_AUDIT_FORM } from './auditFilter';

describe('auditFilterFrom', () => {
  it('sends nothing for an empty form', () => {
    expect(auditFilterFrom(EMPTY_AUDIT_FORM)).toEqual({});
  });

  it('maps every filter onto the API parameters', () => {
    const f = auditFilterFrom({ actor: 'u1', action: 'secret.revealed', secretId: 's1', env: 'production', fromDate: '', toDate: '' });
    expect(f).toEqual({ actor: 'u1', action: 'secret.revealed', secret_id: 's1', env: 'production' });
  });

  it('turns a local date range into whole local days as RFC 3339 instants', () => {
    const f = auditFilterFrom({ ...EMPTY_AUDIT_FORM, fromDate: '2026-03-01', toDate: '2026-03-02' });
    expect(f.from).toBe(new Date('2026-03-01T00:00:00').toISOString());
    expect(f.to).toBe(new Date('2026-03-02T23:59:59.999').toISOString());
    expect(Date.parse(f.to ?? '') - Date.parse(f.from ?? '')).toBe(2 * 86_400_000 - 1);
  });

  it('ignores a malformed date', () => {
    expect(auditFilterFrom({ ...EMPTY_AUDIT_FORM, fromDate: 'not-a-date' })).toEqual({ from: undefined });
  });
});
