// Turns the audit page's form (local calendar dates) into the API's query (RFC 3339 instants).
import type { AuditFilter } from '../api';

export interface AuditForm {
  actor: string;
  action: string;
  secretId: string;
  env: string;
  fromDate: string;
  toDate: string;
}

export const EMPTY_AUDIT_FORM: AuditForm = { actor: '', action: '', secretId: '', env: '', fromDate: '', toDate: '' };

function localDayStart(date: string): string | undefined {
  const d = new Date(`${date}T00:00:00`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

function localDayEnd(date: string): string | undefined {
  const d = new Date(`${date}T23:59:59.999`);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function auditFilterFrom(form: AuditForm): AuditFilter {
  const filter: AuditFilter = {};
  if (form.actor) filter.actor = form.actor;
  if (form.action) filter.action = form.action;
  if (form.secretId) filter.secret_id = form.secretId;
  if (form.env) filter.env = form.env;
  if (form.fromDate) filter.from = localDayStart(form.fromDate);
  if (form.toDate) filter.to = localDayEnd(form.toDate);
  return filter;
}
