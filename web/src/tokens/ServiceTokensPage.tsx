// Service tokens let CI and servers fetch values of chosen environments. A new token is
// shown once; revoking one stops it at once.
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Copy, Plus, Webhook } from 'lucide-react';
import { api, ENVIRONMENTS, environmentName, type EnvSlug, type ServiceToken } from '../api';
import { useOrgAccess } from '../session';
import { AdminOnly } from '../ui/AdminOnly';
import { ConfirmDialog } from '../ui/ConfirmDialog';
import { Dialog } from '../ui/Dialog';
import { EmptyState, PageHeader, SkeletonRows } from '../ui/States';
import { useToast } from '../ui/Toasts';
import { formatDate } from '../ui/dates';
import { copyText } from '../secrets/clipboard';

export function ServiceTokensPage() {
  return (
    <AdminOnly title="Service Tokens" what="service tokens">
      <ServiceTokens />
    </AdminOnly>
  );
}

function ServiceTokens() {
  const { orgId } = useOrgAccess();
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [revoking, setRevoking] = useState<ServiceToken | null>(null);
  const queryClient = useQueryClient();
  const tokens = useQuery({ queryKey: ['org', orgId, 'service-tokens'], queryFn: () => api.listServiceTokens(orgId) });
  const refresh = () => queryClient.invalidateQueries({ queryKey: ['org', orgId, 'service-tokens'] });
  // The server lists live tokens only (a revoked one leaves the list), so nothing to filter.
  const items = tokens.data?.items ?? [];

  return (
    <div>
      <PageHeader
        title="Service Tokens"
        description="Tokens for CI pipelines and servers to fetch the values of chosen environments."
        actions={
          <button type="button" className="button button-primary" onClick={() => setCreating(true)}>
            <Plus size={16} aria-hidden="true" /> Create token
          </button>
        }
      />
      <div className="card">
        {tokens.isPending ? (
          <SkeletonRows rows={3} />
        ) : items.length === 0 ? (
          <EmptyState icon={<Webhook size={28} />} title="No service tokens" action={<button type="button" className="button button-secondary" onClick={() => setCreating(true)}>Create the first token</button>}>
            A service token can read the values of the environments you choose, and nothing else.
          </EmptyState>
        ) : (
          <table className="table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Environments</th>
                <th scope="col">Created</th>
                <th scope="col">Expires</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {items.map((t) => (
                <tr key={t.id}>
                  <td className="strong">{t.name}</td>
                  <td>
                    <span className="chips">
                      {(t.environments ?? []).map((e) => (
                        <span key={e} className={`chip env-chip env-${e}`}>
                          {environmentName(e)}
                        </span>
                      ))}
                    </span>
                  </td>
                  <td className="muted">{formatDate(t.created_at)}</td>
                  <td className="muted">{t.expires_at ? formatDate(t.expires_at) : 'Never'}</td>
                  <td className="table-actions">
                    <button type="button" className="button button-ghost-danger button-sm" aria-label={`Revoke ${t.name}`} onClick={() => setRevoking(t)}>
                      Revoke
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </div>
      {creating ? (
        <CreateTokenDialog
          orgId={orgId}
          onClose={() => setCreating(false)}
          onCreated={(name, token) => {
            setCreating(false);
            setCreated({ name, token });
            void refresh();
          }}
        />
      ) : null}
      {created ? <TokenCreatedDialog name={created.name} token={created.token} onClose={() => setCreated(null)} /> : null}
      {revoking ? (
        <RevokeTokenDialog
          orgId={orgId}
          token={revoking}
          onClose={() => setRevoking(null)}
          onRevoked={() => {
            setRevoking(null);
            void refresh();
          }}
        />
      ) : null}
    </div>
  );
}

function CreateTokenDialog({ orgId, onClose, onCreated }: { orgId: string; onClose: () => void; onCreated: (name: string, token: string) => void }) {
  const [name, setName] = useState('');
  const [envs, setEnvs] = useState<EnvSlug[]>(['production']);
  const [expires, setExpires] = useState('');
  const toast = useToast();
  const create = useMutation({
    mutationFn: () =>
      api.createServiceToken(orgId, {
        name: name.trim(),
        environments: envs,
        expires_at: expires ? new Date(`${expires}T23:59:59Z`).toISOString() : undefined,
      }),
    onSuccess: (res) => onCreated(name.trim(), res.token),
    onError: (err) => toast.error(err),
  });
  return (
    <Dialog
      title="Create service token"
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form="create-token-form" className="button button-primary" disabled={!name.trim() || envs.length === 0 || create.isPending}>
            Create token
          </button>
        </>
      }
    >
      <form
        id="create-token-form"
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <div className="field">
          <label htmlFor="token-name">Token name</label>
          <input id="token-name" data-autofocus className="input" placeholder="github-actions-deploy" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <fieldset className="fieldset">
          <legend>Environments it can read</legend>
          <div className="checkbox-row">
            {ENVIRONMENTS.map((env) => (
              <label key={env.slug} className="checkbox">
                <input
                  type="checkbox"
                  checked={envs.includes(env.slug)}
                  onChange={(e) => setEnvs((all) => (e.target.checked ? [...all, env.slug] : all.filter((x) => x !== env.slug)))}
                />
                {env.name}
              </label>
            ))}
          </div>
        </fieldset>
        <div className="field">
          <label htmlFor="token-expires">
            Expires <span className="optional" aria-hidden="true">optional</span>
          </label>
          <input id="token-expires" className="input" type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
        </div>
      </form>
    </Dialog>
  );
}

function TokenCreatedDialog({ name, token, onClose }: { name: string; token: string; onClose: () => void }) {
  const toast = useToast();
  return (
    <Dialog
      title="Token created"
      onClose={onClose}
      footer={
        <button type="button" className="button button-primary" onClick={onClose}>
          Done
        </button>
      }
    >
      <div className="banner banner-warning" role="status">
        Copy the token for <strong>{name}</strong> now. It is shown only once and cannot be recovered.
      </div>
      <div className="field">
        <label htmlFor="created-token">Service token</label>
        <div className="input-with-button">
          <input id="created-token" data-autofocus className="input input-mono input-readonly" readOnly value={token} onFocus={(e) => e.target.select()} />
          <button
            type="button"
            className="button button-secondary"
            onClick={() => void copyText(token).then(() => toast.success('Copied the token'), (err: unknown) => toast.error(err))}
          >
            <Copy size={15} aria-hidden="true" /> Copy token
          </button>
        </div>
      </div>
    </Dialog>
  );
}

function RevokeTokenDialog({ orgId, token, onClose, onRevoked }: { orgId: string; token: ServiceToken; onClose: () => void; onRevoked: () => void }) {
  return (
    <ConfirmDialog
      title="Revoke service token"
      confirmLabel="Revoke"
      success={`Revoked ${token.name}`}
      action={() => api.revokeServiceToken(orgId, token.id)}
      onClose={onClose}
      onDone={onRevoked}
    >
      <p>
        Anything using <strong>{token.name}</strong> will get 401 on its next request. This cannot be undone.
      </p>
    </ConfirmDialog>
  );
}
