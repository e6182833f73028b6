// The detail / edit view of one secret: read-only identity, each environment's mask and
// version, editable description and values. Save sends only what changed, guarded by the
// version the user started from.
import { useEffect, useMemo, useRef, useState, type RefObject } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Copy, History, Lock, SquarePen, Trash2, Users } from 'lucide-react';
import { api, ApiError, ENVIRONMENTS, type EnvSlug, type Role, type SecretRow } from '../api';
import { Dialog } from '../ui/Dialog';
import { useToast } from '../ui/Toasts';
import { formatDate, formatRelative } from '../ui/dates';
import { FullPageLoading } from '../ui/States';
import { WithTooltip } from '../ui/IconButton';
import { changedFields, computeSecretPatch, draftFrom, withRemoved, withValue, type SecretDraft } from './secretDraft';
import { ownerName } from './ownerName';
import { deleteDeniedReason, modifyDeniedReason } from './SecretCells';
import { VersionHistory } from './VersionHistory';
import { WhoHasAccess } from './WhoHasAccess';
import { EnvironmentValueEditor } from './EnvironmentValueEditor';
import { copyText } from './clipboard';

interface SecretDetailDialogProps {
  orgId: string;
  secretId: string;
  initial?: SecretRow;
  currentEnv: EnvSlug | 'all';
  role: Role;
  /** Owners, admins and super-admins may review who has access (the API refuses others). */
  canReviewAccess?: boolean;
  onClose: () => void;
  onDelete: (row: SecretRow) => void;
}

export function SecretDetailDialog({ orgId, secretId, initial, currentEnv, role, canReviewAccess = false, onClose, onDelete }: SecretDetailDialogProps) {
  const query = useQuery({
    queryKey: ['org', orgId, 'secret', secretId],
    queryFn: () => api.getSecret(orgId, secretId),
    initialData: initial,
    initialDataUpdatedAt: 0,
  });
  const row = query.data;

  if (!row) {
    return (
      <Dialog title={query.isError ? 'Secret not found' : 'Loading secret…'} onClose={onClose} size="lg">
        {query.isError ? <p>{query.error instanceof ApiError ? query.error.detail : 'This secret could not be loaded.'}</p> : <FullPageLoading />}
      </Dialog>
    );
  }
  return <SecretEditor key={row.id} orgId={orgId} row={row} currentEnv={currentEnv} role={role} canReviewAccess={canReviewAccess} onClose={onClose} onDelete={onDelete} />;
}

interface SecretEditorProps {
  orgId: string;
  row: SecretRow;
  currentEnv: EnvSlug | 'all';
  role: Role;
  canReviewAccess: boolean;
  onClose: () => void;
  onDelete: (row: SecretRow) => void;
}

function SecretEditor({ orgId, row, currentEnv, role, canReviewAccess, onClose, onDelete }: SecretEditorProps) {
  // `base` is the version the user started editing from; the draft is compared with it, and
  // its version is sent as expected_version so that a concurrent save is refused, not lost.
  const [base, setBase] = useState<SecretRow>(row);
  const [draft, setDraft] = useState<SecretDraft>(() => draftFrom(row));
  const [tab, setTab] = useState<'details' | 'history' | 'access'>('details');
  const queryClient = useQueryClient();
  const toast = useToast();
  const canModify = row.permissions.modify;
  const denied = modifyDeniedReason(row, role);

  const patch = useMemo(() => computeSecretPatch(base, draft), [base, draft]);
  const changes = changedFields(patch);
  const staleBase = patch !== null && base.version !== row.version;

  // A newer version arrived (live update, rollback): adopt it unless the user is mid-edit.
  useEffect(() => {
    if (row.version === base.version && row.updated_at === base.updated_at) return;
    if (patch === null) {
      setBase(row);
      setDraft(draftFrom(row));
    }
  }, [row, base, patch]);

  // The footer's buttons change under the user (Save turns disabled once saved, Discard turns
  // into Close, the unsaved-changes question comes and goes), which would drop keyboard focus
  // to <body>: these hand it to the button that is the next step, after the render.
  const saveRef = useRef<HTMLButtonElement>(null);
  const closeRef = useRef<HTMLButtonElement>(null);
  const focusNext = useRef<RefObject<HTMLButtonElement | null> | null>(null);
  useEffect(() => {
    focusNext.current?.current?.focus();
    focusNext.current = null;
  });

  const save = useMutation({
    mutationFn: () => {
      if (!patch) throw new Error('Nothing to save.');
      return api.updateSecret(orgId, row.id, patch);
    },
    onSuccess: (updated) => {
      queryClient.setQueryData(['org', orgId, 'secret', row.id], updated);
      void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secrets'] });
      void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secret', row.id, 'versions'] });
      setBase(updated);
      setDraft(draftFrom(updated));
      if (document.activeElement === saveRef.current || document.activeElement === document.body) focusNext.current = closeRef;
      toast.success(`Saved ${updated.name} — version ${updated.version}`);
    },
    onError: (err) => {
      toast.error(err);
      if (err instanceof ApiError && err.code === 'version_conflict') void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secret', row.id] });
    },
  });

  const discard = () => {
    focusNext.current = closeRef;
    setBase(row);
    setDraft(draftFrom(row));
  };

  // Closing with unsaved changes asks first, in the footer rather than in a browser popup.
  const [confirmingClose, setConfirmingClose] = useState(false);
  const requestClose = () => (changes.length > 0 ? setConfirmingClose(true) : onClose());
  useEffect(() => {
    if (changes.length === 0) setConfirmingClose(false);
  }, [changes.length]);

  const deleteReason = deleteDeniedReason(row, role);
  const historyEnv: EnvSlug = currentEnv === 'all' ? (ENVIRONMENTS.find((e) => row.environments[e.slug]?.set)?.slug ?? 'development') : currentEnv;

  return (
    <Dialog
      title={<span className="secret-name secret-name-title">{row.name}</span>}
      label={row.name}
      subtitle={
        <span>
          Version {row.version} · updated <time dateTime={row.updated_at}>{formatRelative(row.updated_at)}</time>
        </span>
      }
      onClose={requestClose}
      size="lg"
      footer={
        confirmingClose ? (
          <>
            <span className="unsaved-question" role="alert">
              Discard your unsaved changes to {changes.join(', ')}?
            </span>
            <div className="dialog-footer-spacer" />
            <button
              type="button"
              className="button button-secondary"
              onClick={() => {
                focusNext.current = saveRef;
                setConfirmingClose(false);
              }}
            >
              Keep editing
            </button>
            <button type="button" className="button button-danger" onClick={onClose}>
              Discard and close
            </button>
          </>
        ) : (
        <>
          <WithTooltip text={deleteReason}>
            <button type="button" className="button button-ghost-danger" disabled={Boolean(deleteReason)} onClick={() => onDelete(row)}>
              <Trash2 size={16} aria-hidden="true" /> Delete secret
            </button>
          </WithTooltip>
          <div className="dialog-footer-spacer" />
          {changes.length > 0 ? (
            <span className="unsaved" aria-live="polite">
              Unsaved: {changes.join(', ')}
            </span>
          ) : null}
          {changes.length > 0 ? (
            <button type="button" className="button button-secondary" onClick={discard}>
              Discard
            </button>
          ) : (
            <button ref={closeRef} type="button" className="button button-secondary" onClick={onClose}>
              Close
            </button>
          )}
          <WithTooltip text={canModify ? undefined : denied}>
            <button
              ref={saveRef}
              type="submit"
              form="secret-edit-form"
              className="button button-primary"
              disabled={!canModify || patch === null}
              aria-disabled={save.isPending || undefined}
            >
              {save.isPending ? 'Saving…' : 'Save'}
            </button>
          </WithTooltip>
        </>
        )
      }
    >
      {!canModify ? (
        <div className="banner banner-warning" role="alert">
          <Lock size={16} aria-hidden="true" />
          <span>{`Only ${ownerName(row.owner)} can modify this secret`}</span>
        </div>
      ) : null}
      {staleBase ? (
        <div className="banner banner-info" role="status">
          Someone else saved a new version (v{row.version}) while you were editing. Saving will be refused unless you discard and start again.
        </div>
      ) : null}

      <div className="tabs" role="tablist" aria-label="Secret sections">
        <button type="button" role="tab" aria-selected={tab === 'details'} className={`tab${tab === 'details' ? ' active' : ''}`} onClick={() => setTab('details')}>
          <SquarePen size={15} aria-hidden="true" /> Details
        </button>
        <button type="button" role="tab" aria-selected={tab === 'history'} className={`tab${tab === 'history' ? ' active' : ''}`} onClick={() => setTab('history')}>
          <History size={15} aria-hidden="true" /> Version history
        </button>
        {canReviewAccess ? (
          <button type="button" role="tab" aria-selected={tab === 'access'} className={`tab${tab === 'access' ? ' active' : ''}`} onClick={() => setTab('access')}>
            <Users size={15} aria-hidden="true" /> Who has access
          </button>
        ) : null}
      </div>

      {tab === 'access' ? (
        <WhoHasAccess orgId={orgId} secret={row} />
      ) : tab === 'history' ? (
        <VersionHistory orgId={orgId} secret={row} initialEnv={historyEnv} canModify={canModify} deniedReason={denied} />
      ) : (
        <form
          id="secret-edit-form"
          className="form"
          onSubmit={(e) => {
            e.preventDefault();
            if (patch && !save.isPending) save.mutate();
          }}
        >
          <dl className="meta-grid">
            <div className="meta-item meta-id">
              <dt>
                <label htmlFor="secret-id">ID</label>
              </dt>
              <dd className="input-with-button">
                <input id="secret-id" className="input input-mono input-readonly" readOnly value={row.id} />
                <button
                  type="button"
                  className="icon-button"
                  aria-label="Copy ID"
                  onClick={() => void copyText(row.id).then(() => toast.success('Copied the secret ID'), (err: unknown) => toast.error(err))}
                >
                  <Copy size={15} aria-hidden="true" />
                </button>
              </dd>
            </div>
            <div className="meta-item">
              <dt>Owner</dt>
              <dd>
                <span>{ownerName(row.owner)}</span>
                {row.owner?.email && row.owner.name ? <span className="meta-sub">{row.owner.email}</span> : null}
              </dd>
            </div>
            <div className="meta-item">
              <dt>Created</dt>
              <dd>
                <span>{formatDate(row.created_at)}</span>
                <span className="meta-sub">{formatRelative(row.created_at)}</span>
              </dd>
            </div>
          </dl>

          <fieldset className="fieldset-plain" disabled={!canModify}>
            <div className="field">
              <label htmlFor="secret-edit-description">Description</label>
              <textarea
                id="secret-edit-description"
                className="input"
                rows={2}
                maxLength={1000}
                value={draft.description}
                placeholder="What is it for, and who rotates it?"
                onChange={(e) => setDraft((d) => ({ ...d, description: e.target.value }))}
              />
            </div>
            <div className="env-values">
              {ENVIRONMENTS.map((env) => (
                <EnvironmentValueEditor
                  key={env.slug}
                  env={env}
                  state={row.environments[env.slug]}
                  edit={draft.values[env.slug]}
                  canModify={canModify}
                  onType={(value) => setDraft((d) => withValue(d, env.slug, value))}
                  onRemove={(removed) => setDraft((d) => withRemoved(d, env.slug, removed))}
                />
              ))}
            </div>
          </fieldset>
        </form>
      )}
    </Dialog>
  );
}
