// The cells of the secrets grid. Each is a small React component that AG Grid renders; the
// grid's `context` carries what they need from the page (org, environment, handlers).
import { createContext, useContext, useEffect, useState } from 'react';
import type { CustomCellRendererProps } from 'ag-grid-react';
import { Pencil, Trash2 } from 'lucide-react';
import type { EnvSlug, Role, SecretRow } from '../api';
import { IconButton } from '../ui/IconButton';
import { CopyValueButton } from './CopyValueButton';
import { RevealButton } from './RevealButton';
import { useRevealed } from './RevealStoreContext';
import { ownerName } from './ownerName';

export interface SecretsGridContext {
  orgId: string;
  view: EnvSlug | 'all';
  role: Role;
  revealPolicy?: string;
  onEdit: (row: SecretRow) => void;
  onDelete: (row: SecretRow) => void;
}

type CellProps = CustomCellRendererProps<SecretRow, unknown>;

// AG Grid's own `context` option is read once; a React context lets the cells follow changes
// (the org's reveal policy arriving, the role changing) because ag-grid-react renders them
// through portals inside this React tree.
export const SecretsGridReactContext = createContext<SecretsGridContext | null>(null);

function useGridContext(): SecretsGridContext {
  const ctx = useContext(SecretsGridReactContext);
  if (!ctx) throw new Error('secret cells must be rendered inside SecretsGrid');
  return ctx;
}

export function modifyDeniedReason(row: SecretRow, role: Role): string | undefined {
  if (row.permissions.modify) return undefined;
  if (role === 'viewer') return 'Viewers cannot modify secrets';
  return `Only ${ownerName(row.owner)} can modify this secret`;
}

export function deleteDeniedReason(row: SecretRow, role: Role): string | undefined {
  if (row.permissions.delete) return undefined;
  if (role === 'viewer') return 'Viewers cannot delete secrets';
  return `Only ${ownerName(row.owner)} can delete this secret`;
}

export function NameCell({ data }: CellProps) {
  if (!data) return null;
  return <span className="secret-name">{data.name}</span>;
}

function useSecondsLeft(hideAt: number | undefined): number | undefined {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (hideAt === undefined) return;
    setNow(Date.now());
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, [hideAt]);
  if (hideAt === undefined) return undefined;
  return Math.max(0, Math.ceil((hideAt - now) / 1000));
}

export function ValueCell({ data }: CellProps) {
  const context = useGridContext();
  const env = context.view === 'all' ? 'development' : context.view;
  const revealed = useRevealed(data?.id ?? '', env);
  const secondsLeft = useSecondsLeft(revealed?.hideAt);
  if (!data) return null;
  const state = data.environments[env];
  return (
    <div className="value-cell">
      {revealed ? (
        <code className="value-revealed" data-testid="revealed-value" title={revealed.value}>
          {revealed.value}
        </code>
      ) : (
        <code className="value-mask">{state?.mask ?? '***'}</code>
      )}
      {state?.version !== undefined && !revealed ? (
        <span className="version-badge" title={`Version ${state.version} of the value`}>
          v{state.version}
        </span>
      ) : null}
      {secondsLeft !== undefined ? (
        <span className="value-countdown" aria-label={`Hides in ${secondsLeft} seconds`}>
          {secondsLeft}s
        </span>
      ) : null}
      <span className="value-actions">
        <RevealButton orgId={context.orgId} secret={data} env={env} revealPolicy={context.revealPolicy} />
        <CopyValueButton orgId={context.orgId} secret={data} env={env} revealPolicy={context.revealPolicy} />
      </span>
    </div>
  );
}

export function PresenceCell({ value }: CellProps) {
  const yes = value === 'Yes';
  return <span className={`presence ${yes ? 'presence-yes' : 'presence-no'}`}>{yes ? 'Yes' : 'No'}</span>;
}

export function OwnerCell({ data }: CellProps) {
  if (!data) return null;
  const name = ownerName(data.owner);
  return (
    <span className="owner-cell" title={data.owner?.email}>
      <span className="avatar avatar-sm" aria-hidden="true">
        {name.charAt(0).toUpperCase()}
      </span>
      <span className="owner-cell-name">{name}</span>
    </span>
  );
}

export function ActionsCell({ data }: CellProps) {
  const context = useGridContext();
  if (!data) return null;
  return (
    <div className="row-actions">
      <IconButton
        label="Edit secret"
        icon={<Pencil size={16} aria-hidden="true" />}
        onClick={() => context.onEdit(data)}
        disabledReason={modifyDeniedReason(data, context.role)}
      />
      <IconButton
        label="Delete secret"
        tone="danger"
        icon={<Trash2 size={16} aria-hidden="true" />}
        onClick={() => context.onDelete(data)}
        disabledReason={deleteDeniedReason(data, context.role)}
      />
    </div>
  );
}
