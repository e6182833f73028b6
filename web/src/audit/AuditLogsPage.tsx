// The audit trail: who did what to which secret, when and from where. Filters, cursor
// pagination, CSV export of the filtered trail, and a check of the hash chain.
import { useState } from 'react';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { ChevronLeft, ChevronRight, ClipboardList, Download, FilterX, ShieldCheck } from 'lucide-react';
import { api, downloadFile, ENVIRONMENTS, environmentName, type AuditItem } from '../api';
import { useOrgAccess } from '../session';
import { AdminOnly } from '../ui/AdminOnly';
import { EmptyState, PageHeader, SkeletonRows } from '../ui/States';
import { useToast } from '../ui/Toasts';
import { formatDateTime, formatRelative } from '../ui/dates';
import { auditFilterFrom, EMPTY_AUDIT_FORM, type AuditForm } from './auditFilter';

export const AUDIT_ACTIONS = [
  'secret.created',
  'secret.updated',
  'secret.deleted',
  'secret.revealed',
  'secret.rolled_back',
  'secrets.fetched',
  'member.added',
  'member.role_changed',
  'member.removed',
  'org.updated',
  'token.created',
  'token.revoked',
  'webhook.created',
  'webhook.deleted',
] as const;

const PAGE_SIZE = 50;

export function AuditLogsPage() {
  return (
    <AdminOnly title="Audit Logs" what="the audit trail">
      <AuditLogs />
    </AdminOnly>
  );
}

function AuditLogs() {
  const { orgId, orgName } = useOrgAccess();
  const toast = useToast();
  const [form, setForm] = useState<AuditForm>(EMPTY_AUDIT_FORM);
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const [exporting, setExporting] = useState(false);
  const [verifying, setVerifying] = useState(false);
  const filter = auditFilterFrom(form);
  const cursor = cursors[cursors.length - 1];
  const page = cursors.length;

  const members = useQuery({ queryKey: ['org', orgId, 'members'], queryFn: () => api.listMembers(orgId) });
  const secrets = useQuery({ queryKey: ['org', orgId, 'secrets', { view: 'all', q: '' }], queryFn: () => api.listSecrets(orgId, {}) });
  const audit = useQuery({
    queryKey: ['org', orgId, 'audit', filter, cursor],
    queryFn: () => api.listAudit(orgId, filter, cursor, PAGE_SIZE),
    placeholderData: keepPreviousData,
  });

  const update = (patch: Partial<AuditForm>) => {
    setForm((f) => ({ ...f, ...patch }));
    setCursors([undefined]);
  };
  const filtered = JSON.stringify(form) !== JSON.stringify(EMPTY_AUDIT_FORM);
  const items = audit.data?.items ?? [];

  const exportCsv = async () => {
    setExporting(true);
    try {
      const date = new Date().toISOString().slice(0, 10);
      await downloadFile(api.auditExportUrl(orgId, filter), `keyledger-audit-${orgName.replace(/[^\w-]+/g, '-').toLowerCase()}-${date}.csv`);
      toast.success('Exported the audit trail as CSV');
    } catch (err) {
      toast.error(err);
    } finally {
      setExporting(false);
    }
  };

  const verify = async () => {
    setVerifying(true);
    try {
      const res = await api.verifyAudit(orgId);
      if (res.ok) toast.success(`Audit trail intact: ${res.checked} entries verified`);
      else toast.error(`The audit trail's hash chain is broken (${res.checked} entries checked)`);
    } catch (err) {
      toast.error(err);
    } finally {
      setVerifying(false);
    }
  };

  return (
    <div className="audit-page">
      <PageHeader
        title="Audit Logs"
        description="Every change, reveal and fetch, with who, when and from where."
        actions={
          <>
            <button type="button" className="button button-secondary" onClick={verify} disabled={verifying}>
              <ShieldCheck size={16} aria-hidden="true" /> Verify integrity
            </button>
            <button type="button" className="button button-secondary" onClick={exportCsv} disabled={exporting}>
              <Download size={16} aria-hidden="true" /> Export CSV
            </button>
          </>
        }
      />
      <form className="filters" role="search" aria-label="Audit filters" onSubmit={(e) => e.preventDefault()}>
        <div className="field">
          <label htmlFor="audit-user">User</label>
          <select id="audit-user" className="select select-sm" value={form.actor} onChange={(e) => update({ actor: e.target.value })}>
            <option value="">Anyone</option>
            {(members.data?.items ?? []).map((m) => (
              <option key={m.user_id} value={m.user_id}>
                {m.email}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-action">Action</label>
          <select id="audit-action" className="select select-sm" value={form.action} onChange={(e) => update({ action: e.target.value })}>
            <option value="">Any action</option>
            {AUDIT_ACTIONS.map((a) => (
              <option key={a} value={a}>
                {a}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-secret">Secret</label>
          <select id="audit-secret" className="select select-sm" value={form.secretId} onChange={(e) => update({ secretId: e.target.value })}>
            <option value="">Any secret</option>
            {(secrets.data ?? []).map((s) => (
              <option key={s.id} value={s.id}>
                {s.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-env">Environment</label>
          <select id="audit-env" className="select select-sm" value={form.env} onChange={(e) => update({ env: e.target.value })}>
            <option value="">Any environment</option>
            {ENVIRONMENTS.map((env) => (
              <option key={env.slug} value={env.slug}>
                {env.name}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label htmlFor="audit-from">From</label>
          <input id="audit-from" className="input input-sm" type="date" value={form.fromDate} max={form.toDate || undefined} onChange={(e) => update({ fromDate: e.target.value })} />
        </div>
        <div className="field">
          <label htmlFor="audit-to">To</label>
          <input id="audit-to" className="input input-sm" type="date" value={form.toDate} min={form.fromDate || undefined} onChange={(e) => update({ toDate: e.target.value })} />
        </div>
        <div className="field field-button">
          <button type="button" className="button button-ghost button-sm" disabled={!filtered} onClick={() => update(EMPTY_AUDIT_FORM)}>
            <FilterX size={15} aria-hidden="true" /> Clear filters
          </button>
        </div>
      </form>
      <div className="card table-card">
        {audit.isPending ? (
          <SkeletonRows rows={8} />
        ) : items.length === 0 ? (
          <EmptyState icon={<ClipboardList size={28} />} title={filtered ? 'No entries match these filters' : 'No audit entries yet'}>
            {filtered ? 'Try a wider date range or fewer filters.' : 'Entries appear here as soon as anyone changes or reveals a secret.'}
          </EmptyState>
        ) : (
          // Scrolls sideways in a narrow window: focusable, so the keyboard can scroll it too.
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Audit trail, scrollable">
            <table className="table audit-table" aria-label="Audit trail">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">User</th>
                  <th scope="col">Action</th>
                  <th scope="col">Secret</th>
                  <th scope="col">Environment</th>
                  <th scope="col">IP</th>
                  <th scope="col">User agent</th>
                </tr>
              </thead>
              <tbody>
                {items.map((item) => (
                  <AuditRow key={item.id} item={item} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </div>
      <nav className="pagination" aria-label="Audit pages">
        <span className="muted">
          Page {page}
          {audit.isFetching ? ' · loading…' : ''}
        </span>
        <button type="button" className="button button-secondary button-sm" disabled={page === 1} onClick={() => setCursors((c) => c.slice(0, -1))}>
          <ChevronLeft size={15} aria-hidden="true" /> Newer
        </button>
        <button
          type="button"
          className="button button-secondary button-sm"
          disabled={!audit.data?.next_cursor}
          onClick={() => setCursors((c) => [...c, audit.data?.next_cursor ?? undefined])}
        >
          Older <ChevronRight size={15} aria-hidden="true" />
        </button>
      </nav>
    </div>
  );
}

function AuditRow({ item }: { item: AuditItem }) {
  const denied = item.outcome === 'denied';
  return (
    <tr className={denied ? 'row-denied' : undefined}>
      <td className="nowrap">
        <time dateTime={item.at} title={formatRelative(item.at)}>
          {formatDateTime(item.at)}
        </time>
      </td>
      <td>{item.actor?.email ?? <span className="muted">service token</span>}</td>
      <td className="nowrap">
        <span className={`action-pill action-${item.action.split('.')[1] ?? 'other'}`}>{item.action}</span>
        {denied ? <span className="badge badge-danger">denied</span> : null}
        {item.details ? <div className="audit-details">{item.details}</div> : null}
      </td>
      <td>{item.secret_name ? <code className="secret-name">{item.secret_name}</code> : <span className="muted">—</span>}</td>
      <td>{item.env ? environmentName(item.env) : <span className="muted">—</span>}</td>
      <td className="mono muted nowrap">{item.ip || '—'}</td>
      <td className="muted ellipsis" title={item.user_agent ?? undefined}>
        {item.user_agent || '—'}
      </td>
    </tr>
  );
}
