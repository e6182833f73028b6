// The Secrets page: environment switcher, search, "+ Add Secret", and the grid. The chosen
// environment, the search and the open secret live in the URL, so a reload keeps them.
import { useEffect, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { Plus } from 'lucide-react';
import { api, type SecretRow } from '../api';
import { useOrgAccess } from '../session';
import { useToast } from '../ui/Toasts';
import { PageHeader } from '../ui/States';
import { WithTooltip } from '../ui/IconButton';
import { EnvironmentSelect, parseView, viewLabel, type SecretsView } from './EnvironmentSelect';
import { SecretSearch } from './SecretSearch';
import { SecretsGrid } from './SecretsGrid';
import { AddSecretDialog } from './AddSecretDialog';
import { SecretDetailDialog } from './SecretDetailDialog';
import { DeleteSecretDialog } from './DeleteSecretDialog';
import { useDebounced } from './useDebounced';
import { onSecretChange } from './useSecretChanges';
import { useRevealStore } from './RevealStoreContext';
import { revealKey } from './revealStore';
import type { SecretsGridContext } from './SecretCells';

export function SecretsPage() {
  const access = useOrgAccess();
  const { orgId } = access;
  const [params, setParams] = useSearchParams();
  const view = parseView(params.get('env'));
  const openId = params.get('secret');
  const [search, setSearch] = useState(params.get('q') ?? '');
  const q = useDebounced(search.trim(), 150);
  const [adding, setAdding] = useState(false);
  const [deleting, setDeleting] = useState<SecretRow | null>(null);
  const toast = useToast();

  // "n" opens + Add Secret from anywhere on the page, as "/" focuses the search.
  useEffect(() => {
    if (!access.canCreateSecrets) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== 'n' || e.metaKey || e.ctrlKey || e.altKey) return;
      if ((e.target as HTMLElement).closest('input, textarea, select, [contenteditable="true"], dialog')) return;
      e.preventDefault();
      setAdding(true);
    };
    document.addEventListener('keydown', onKey);
    return () => document.removeEventListener('keydown', onKey);
  }, [access.canCreateSecrets]);

  // A value someone else just changed is no longer the one on screen: mask it again.
  const reveals = useRevealStore();
  const myId = access.me.user.id;
  useEffect(
    () =>
      onSecretChange((n) => {
        if (n.actor_id === myId) return;
        if (n.env) reveals.hide(revealKey(n.secret_id, n.env));
        else reveals.hideSecret(n.secret_id);
      }),
    [reveals, myId],
  );

  const secrets = useQuery({
    queryKey: ['org', orgId, 'secrets', { view, q }],
    queryFn: () => api.listSecrets(orgId, { env: view === 'all' ? undefined : view, q: q || undefined }),
    placeholderData: keepPreviousData,
  });

  const setParam = (key: string, value: string | null) =>
    setParams(
      (p) => {
        const next = new URLSearchParams(p);
        if (value === null || value === '') next.delete(key);
        else next.set(key, value);
        return next;
      },
      { replace: key !== 'secret' },
    );

  const switchView = (next: SecretsView) => {
    setParam('env', next);
    toast.success(next === 'all' ? 'Showing All environments' : `Showing ${viewLabel(next)} secrets`);
  };

  const openSecret = (row: SecretRow) => setParam('secret', row.id);
  const rows = secrets.data;
  const openRow = rows?.find((r) => r.id === openId);

  const gridContext = useMemo<SecretsGridContext>(
    () => ({
      orgId,
      view,
      role: access.role,
      revealPolicy: access.org?.reveal_policy,
      onEdit: openSecret,
      onDelete: setDeleting,
    }),
    // The handlers only depend on the URL setter, which is stable.
    [orgId, view, access.role, access.org?.reveal_policy],
  );

  const count = rows?.length;
  const emptyMessage = q
    ? `No secret matches “${q}”.`
    : view === 'all'
      ? 'No secrets yet. Add your first one with “+ Add Secret”.'
      : `No secret has a ${viewLabel(view)} value yet.`;

  return (
    <div className="secrets-page">
      <PageHeader
        title="Secrets"
        description={
          <>
            {access.orgName} · {count === undefined ? 'loading…' : `${count} ${count === 1 ? 'secret' : 'secrets'}`}
            {view === 'all' ? ' in all environments' : ` with a ${viewLabel(view)} value`}
          </>
        }
        actions={
          <WithTooltip text={access.canCreateSecrets ? 'New secret (N)' : 'Viewers cannot create secrets'}>
            <button type="button" className="button button-primary" disabled={!access.canCreateSecrets} onClick={() => setAdding(true)} aria-label="Add Secret">
              <Plus size={16} aria-hidden="true" /> Add Secret
            </button>
          </WithTooltip>
        }
      />
      <div className="toolbar">
        <EnvironmentSelect value={view} onChange={switchView} />
        <SecretSearch
          value={search}
          onChange={(v) => {
            setSearch(v);
            setParam('q', v.trim() || null);
          }}
        />
        {secrets.isFetching && !secrets.isPending ? <span className="toolbar-hint">Refreshing…</span> : null}
      </div>
      {secrets.isError ? (
        <div className="banner banner-error" role="alert">
          {secrets.error.message}
        </div>
      ) : null}
      <SecretsGrid rows={rows} loading={secrets.isPending} context={gridContext} onOpen={openSecret} emptyMessage={emptyMessage} />

      {adding ? (
        <AddSecretDialog
          orgId={orgId}
          currentEnv={view}
          onClose={() => setAdding(false)}
          onCreated={() => setAdding(false)}
        />
      ) : null}
      {openId && !deleting ? (
        <SecretDetailDialog
          orgId={orgId}
          secretId={openId}
          initial={openRow}
          currentEnv={view}
          role={access.role}
          canReviewAccess={access.canAdminister}
          onClose={() => setParam('secret', null)}
          onDelete={setDeleting}
        />
      ) : null}
      {deleting ? (
        <DeleteSecretDialog
          orgId={orgId}
          secret={deleting}
          env={view === 'all' ? undefined : view}
          onClose={() => setDeleting(null)}
          onDeleted={(scope) => {
            setDeleting(null);
            if (scope === 'secret') setParam('secret', null);
          }}
        />
      ) : null}
    </div>
  );
}
