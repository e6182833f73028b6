// Settings → Webhooks: endpoints that receive the organization's change notices as signed
// POSTs. A new webhook's signing secret is shown once; each webhook lists its deliveries,
// and any of them can be sent again.
import { useId, useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Send } from 'lucide-react';
import { ApiError, api, environmentName, type CreatedWebhook, type EnvSlug, type Webhook, type WebhookDelivery } from '../api';
import { useOrgAccess } from '../session';
import { AddButton } from '../ui/AddButton';
import { AdminOnly } from '../ui/AdminOnly';
import { ConfirmDialog } from '../ui/ConfirmDialog';
import { EnvironmentCheckboxes, EnvironmentChips } from '../ui/EnvironmentCheckboxes';
import { FormDialog } from '../ui/FormDialog';
import { ListCard } from '../ui/ListCard';
import { ShownOnceDialog } from '../ui/ShownOnceDialog';
import { EmptyState, PageHeader, SkeletonRows } from '../ui/States';
import { useToast } from '../ui/Toasts';
import { formatDate, formatDateTime } from '../ui/dates';
import { useOrgList } from '../ui/useOrgList';
import { SettingsNav } from '../settings/SettingsNav';

export function WebhooksPage() {
  return (
    <AdminOnly title="Webhooks" what="webhooks">
      <WebhooksOf orgId={useOrgAccess().orgId} />
    </AdminOnly>
  );
}

/** The webhooks of one organization: the page without the access check. */
export function WebhooksOf({ orgId }: { orgId: string }) {
  const [adding, setAdding] = useState(false);
  const [created, setCreated] = useState<CreatedWebhook | null>(null);
  const [removing, setRemoving] = useState<Webhook | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const { list: hooks, items, refresh } = useOrgList(orgId, 'webhooks', () => api.listWebhooks(orgId));

  return (
    <div>
      <PageHeader
        title="Webhooks"
        description="Endpoints that receive every change of a secret as a signed POST, retried for a day until they answer 2xx."
        actions={<AddButton label="Add webhook" onClick={() => setAdding(true)} />}
      />
      <SettingsNav orgId={orgId} />
      <ListCard
        query={hooks}
        isEmpty={items.length === 0}
        loadingRows={3}
        loadError="The webhooks could not be loaded."
        empty={
          <EmptyState icon={<Send size={28} />} title="No webhooks">
            A webhook receives each change notice (never a value) as JSON, signed with its own secret.
          </EmptyState>
        }
        columns={['Endpoint', 'Environments', 'Description', 'Created']}
      >
        {items.map((w) => (
          <WebhookRow
            key={w.id}
            orgId={orgId}
            webhook={w}
            open={open === w.id}
            onToggle={() => setOpen((cur) => (cur === w.id ? null : w.id))}
            onRemove={() => setRemoving(w)}
          />
        ))}
      </ListCard>
      {adding ? (
        <AddWebhookDialog
          orgId={orgId}
          onClose={() => setAdding(false)}
          onCreated={(w) => {
            setAdding(false);
            setCreated(w);
            void refresh();
          }}
        />
      ) : null}
      {created ? <SigningSecretDialog webhook={created} onClose={() => setCreated(null)} /> : null}
      {removing ? (
        <ConfirmDialog
          title="Remove webhook"
          confirmLabel="Remove"
          success="Removed the webhook"
          action={() => api.deleteWebhook(orgId, removing.id)}
          onClose={() => setRemoving(null)}
          onDone={() => {
            setRemoving(null);
            void refresh();
          }}
        >
          <p>
            Nothing more will be sent to <strong className="mono">{removing.url}</strong>, pending deliveries included.
          </p>
        </ConfirmDialog>
      ) : null}
    </div>
  );
}

function WebhookRow({ orgId, webhook, open, onToggle, onRemove }: { orgId: string; webhook: Webhook; open: boolean; onToggle: () => void; onRemove: () => void }) {
  const panelId = useId();
  return (
    <>
      <tr>
        <td className="strong mono">{webhook.url}</td>
        <td>
          <EnvironmentChips envs={webhook.environments} none="All environments" />
        </td>
        <td className="muted">{webhook.description || '—'}</td>
        <td className="muted">{formatDate(webhook.created_at)}</td>
        <td className="table-actions">
          <button type="button" className="button button-secondary button-sm" aria-expanded={open} aria-controls={panelId} onClick={onToggle}>
            Deliveries
          </button>
          <button type="button" className="button button-ghost-danger button-sm" aria-label={`Remove webhook ${webhook.url}`} onClick={onRemove}>
            Remove
          </button>
        </td>
      </tr>
      {open ? (
        <tr>
          <td colSpan={5} id={panelId}>
            <Deliveries orgId={orgId} webhook={webhook} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

const statusLabel: Record<WebhookDelivery['status'], string> = { pending: 'Pending', delivered: 'Delivered', failed: 'Failed' };

/** A webhook's deliveries, newest first, refreshed while shown. */
export function Deliveries({ orgId, webhook }: { orgId: string; webhook: Webhook }) {
  const toast = useToast();
  const queryClient = useQueryClient();
  const key = ['org', orgId, 'webhooks', webhook.id, 'deliveries'];
  const deliveries = useQuery({ queryKey: key, queryFn: () => api.listWebhookDeliveries(orgId, webhook.id), refetchInterval: 5_000 });
  const redeliver = useMutation({
    mutationFn: (d: WebhookDelivery) => api.redeliverWebhook(orgId, webhook.id, d.id),
    onSuccess: (_, d) => {
      toast.success(`Delivery of event ${d.seq} queued again`);
      void queryClient.invalidateQueries({ queryKey: key });
    },
    onError: (err) => toast.error(err),
  });
  const items = deliveries.data?.items ?? [];
  if (deliveries.isPending) return <SkeletonRows rows={2} />;
  if (items.length === 0) return <p className="muted">No deliveries yet: the next change of a secret will be sent here.</p>;
  return (
    <table className="table table-compact" aria-label={`Deliveries to ${webhook.url}`}>
      <thead>
        <tr>
          <th scope="col">Event</th>
          <th scope="col">Environment</th>
          <th scope="col">Status</th>
          <th scope="col">Attempts</th>
          <th scope="col">Last response</th>
          <th scope="col">Next attempt</th>
          <th scope="col">
            <span className="visually-hidden">Actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {items.map((d) => (
          <tr key={d.id}>
            <td className="mono">{d.seq}</td>
            <td>{d.env ? environmentName(d.env) : 'All'}</td>
            <td>
              <span className={`chip delivery-${d.status}`}>{statusLabel[d.status]}</span>
            </td>
            <td>{d.attempts}</td>
            <td className="muted">{d.last_error ?? (d.last_status_code ? `HTTP ${d.last_status_code}` : '—')}</td>
            <td className="muted">{d.next_attempt_at ? formatDateTime(d.next_attempt_at) : '—'}</td>
            <td className="table-actions">
              <button
                type="button"
                className="button button-secondary button-sm"
                aria-disabled={redeliver.isPending && redeliver.variables?.id === d.id}
                aria-busy={redeliver.isPending && redeliver.variables?.id === d.id}
                onClick={() => {
                  if (!redeliver.isPending) redeliver.mutate(d);
                }}
              >
                Redeliver
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function AddWebhookDialog({ orgId, onClose, onCreated }: { orgId: string; onClose: () => void; onCreated: (w: CreatedWebhook) => void }) {
  const [url, setUrl] = useState('');
  const [envs, setEnvs] = useState<EnvSlug[]>([]);
  const [description, setDescription] = useState('');
  const toast = useToast();
  const create = useMutation({
    mutationFn: () => api.createWebhook(orgId, { url: url.trim(), environments: envs, description: description.trim() }),
    onSuccess: onCreated,
    onError: (err) => {
      if (!(err instanceof ApiError && err.fieldError('url'))) toast.error(err);
    },
  });
  const urlError = create.error instanceof ApiError ? create.error.fieldError('url') : undefined;
  return (
    <FormDialog
      title="Add webhook"
      formId="add-webhook-form"
      submitLabel="Create webhook"
      canSubmit={Boolean(url.trim()) && !create.isPending}
      onSubmit={() => {
        if (url.trim()) create.mutate();
      }}
      onClose={onClose}
    >
      <div className="field">
        <label htmlFor="webhook-url">Endpoint URL</label>
        <input
          id="webhook-url"
          data-autofocus
          className="input input-mono"
          type="url"
          inputMode="url"
          placeholder="https://hooks.example.com/keyledger"
          value={url}
          aria-invalid={Boolean(urlError)}
          aria-describedby="webhook-url-hint"
          onChange={(e) => setUrl(e.target.value)}
        />
        <div id="webhook-url-hint" className={urlError ? 'field-error' : 'field-hint'} role={urlError ? 'alert' : undefined}>
          {urlError ? `Endpoint URL ${urlError}.` : 'https or http, on a public address.'}
        </div>
      </div>
      <EnvironmentCheckboxes
        legend="Environments"
        checked={envs}
        onChange={setEnvs}
        hint="None checked: every environment, and changes that touch none (a description)."
      />
      <div className="field">
        <label htmlFor="webhook-description">
          Description <span className="optional" aria-hidden="true">optional</span>
        </label>
        <input id="webhook-description" className="input" value={description} onChange={(e) => setDescription(e.target.value)} />
      </div>
    </FormDialog>
  );
}

function SigningSecretDialog({ webhook, onClose }: { webhook: CreatedWebhook; onClose: () => void }) {
  return (
    <ShownOnceDialog
      title="Webhook added"
      warning={
        <>
          Copy the signing secret for <strong className="mono">{webhook.url}</strong> now. It is shown only once.
        </>
      }
      fieldId="webhook-secret"
      fieldLabel="Signing secret"
      value={webhook.signing_secret}
      copyLabel="Copy secret"
      copied="Copied the signing secret"
      hint={
        <>
          Each request carries <code>Keyledger-Signature: t=…,v1=…</code>: the hex HMAC-SHA256 of <code>t.body</code> with this secret.
        </>
      }
      onClose={onClose}
    />
  );
}
