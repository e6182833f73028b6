// Service tokens let CI and servers fetch values of chosen environments. A new token is
// shown once; revoking one stops it at once.
import { useState } from 'react';
import { useMutation } from '@tanstack/react-query';
import { Webhook } from 'lucide-react';
import { api, type EnvSlug, type ServiceToken } from '../api';
import { useOrgAccess } from '../session';
import { AddButton } from '../ui/AddButton';
import { AdminOnly } from '../ui/AdminOnly';
import { ConfirmDialog } from '../ui/ConfirmDialog';
import { EnvironmentCheckboxes, EnvironmentChips } from '../ui/EnvironmentCheckboxes';
import { FormDialog } from '../ui/FormDialog';
import { ListCard } from '../ui/ListCard';
import { ShownOnceDialog } from '../ui/ShownOnceDialog';
import { EmptyState, PageHeader } from '../ui/States';
import { useToast } from '../ui/Toasts';
import { formatDate } from '../ui/dates';
import { useOrgList } from '../ui/useOrgList';

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
  // The server lists live tokens only (a revoked one leaves the list), so nothing to filter.
  const { list: tokens, items, refresh } = useOrgList(orgId, 'service-tokens', () => api.listServiceTokens(orgId));

  return (
    <div>
      <PageHeader
        title="Service Tokens"
        description="Tokens for CI pipelines and servers to fetch the values of chosen environments."
        actions={<AddButton label="Create token" onClick={() => setCreating(true)} />}
      />
      <ListCard
        query={tokens}
        isEmpty={items.length === 0}
        loadingRows={3}
        loadError="The service tokens could not be loaded."
        empty={
          <EmptyState
            icon={<Webhook size={28} />}
            title="No service tokens"
            action={
              <button type="button" className="button button-secondary" onClick={() => setCreating(true)}>
                Create the first token
              </button>
            }
          >
            A service token can read the values of the environments you choose, and nothing else.
          </EmptyState>
        }
        columns={['Name', 'Environments', 'Created', 'Expires']}
      >
        {items.map((t) => (
          <tr key={t.id}>
            <td className="strong">{t.name}</td>
            <td>
              <EnvironmentChips envs={t.environments ?? []} />
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
      </ListCard>
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
    <FormDialog
      title="Create service token"
      formId="create-token-form"
      submitLabel="Create token"
      canSubmit={Boolean(name.trim()) && envs.length > 0 && !create.isPending}
      onSubmit={() => create.mutate()}
      onClose={onClose}
    >
      <div className="field">
        <label htmlFor="token-name">Token name</label>
        <input id="token-name" data-autofocus className="input" placeholder="github-actions-deploy" value={name} onChange={(e) => setName(e.target.value)} />
      </div>
      <EnvironmentCheckboxes legend="Environments it can read" checked={envs} onChange={setEnvs} />
      <div className="field">
        <label htmlFor="token-expires">
          Expires <span className="optional" aria-hidden="true">optional</span>
        </label>
        <input id="token-expires" className="input" type="date" value={expires} onChange={(e) => setExpires(e.target.value)} />
      </div>
    </FormDialog>
  );
}

function TokenCreatedDialog({ name, token, onClose }: { name: string; token: string; onClose: () => void }) {
  return (
    <ShownOnceDialog
      title="Token created"
      warning={
        <>
          Copy the token for <strong>{name}</strong> now. It is shown only once and cannot be recovered.
        </>
      }
      fieldId="created-token"
      fieldLabel="Service token"
      value={token}
      copyLabel="Copy token"
      copied="Copied the token"
      onClose={onClose}
    />
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
