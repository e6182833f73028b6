// The version history of one environment's value, newest first, with rollback to an
// earlier version (which records a new version equal to the old value).
import { useState } from 'react';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { History, RotateCcw } from 'lucide-react';
import { api, ENVIRONMENTS, environmentName, type EnvSlug, type SecretRow, type SecretVersion } from '../api';
import { formatDateTime, formatRelative } from '../ui/dates';
import { useToast } from '../ui/Toasts';
import { EmptyState, SkeletonRows } from '../ui/States';
import { WithTooltip } from '../ui/IconButton';

const ACTION_LABEL: Record<string, string> = {
  created: 'Created',
  updated: 'Updated',
  deleted: 'Deleted',
  rolled_back: 'Rolled back',
};

interface VersionHistoryProps {
  orgId: string;
  secret: SecretRow;
  initialEnv: EnvSlug;
  canModify: boolean;
  deniedReason?: string;
}

export function VersionHistory({ orgId, secret, initialEnv, canModify, deniedReason }: VersionHistoryProps) {
  const [env, setEnv] = useState<EnvSlug>(initialEnv);
  const queryClient = useQueryClient();
  const toast = useToast();
  const versions = useQuery({
    queryKey: ['org', orgId, 'secret', secret.id, 'versions', env, secret.version],
    queryFn: () => api.listVersions(orgId, secret.id, env),
    placeholderData: (prev) => prev,
  });
  const current = secret.environments[env];

  const rollback = useMutation({
    mutationFn: (v: SecretVersion) => api.rollback(orgId, secret.id, env, v.version),
    onSuccess: (row, v) => {
      queryClient.setQueryData(['org', orgId, 'secret', secret.id], row);
      void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secrets'] });
      toast.success(`Rolled back the ${environmentName(env)} value of ${row.name} to version ${v.version}`);
    },
    onError: (err) => toast.error(err),
  });

  const items = (versions.data?.items ?? []).filter((v) => v.env === env || !v.env);

  return (
    <div className="history">
      <div className="segmented" role="group" aria-label="History environment">
        {ENVIRONMENTS.map((e) => (
          <button
            key={e.slug}
            type="button"
            className={`segmented-item${e.slug === env ? ' active' : ''}`}
            aria-pressed={e.slug === env}
            onClick={() => setEnv(e.slug)}
          >
            {e.name}
          </button>
        ))}
      </div>
      {versions.isPending ? (
        <SkeletonRows rows={3} />
      ) : items.length === 0 ? (
        <EmptyState icon={<History size={24} />} title={`No ${environmentName(env)} history`}>
          This secret has never had a value in {environmentName(env)}.
        </EmptyState>
      ) : (
        <ol className="history-list" aria-label={`${environmentName(env)} versions`}>
          {items.map((v) => {
            const isCurrent = current?.set && current.version === v.version && v.action !== 'deleted';
            const canRollBack = !isCurrent && v.action !== 'deleted';
            return (
              <li key={`${v.version}-${v.at}`} className={`history-item${isCurrent ? ' current' : ''}`}>
                <span className="version-badge">v{v.version}</span>
                <div className="history-main">
                  <div className="history-line">
                    <span className={`history-action action-${v.action}`}>{ACTION_LABEL[v.action] ?? v.action}</span>
                    {v.mask ? <code className="value-mask">{v.mask}</code> : null}
                    {isCurrent ? <span className="badge badge-accent">current</span> : null}
                  </div>
                  <div className="history-meta">
                    {v.actor?.email ?? 'unknown'} · <time dateTime={v.at} title={formatDateTime(v.at)}>{formatRelative(v.at)}</time>
                  </div>
                </div>
                {canRollBack ? (
                  <WithTooltip text={canModify ? undefined : deniedReason}>
                    <button
                      type="button"
                      className="button button-secondary button-sm"
                      aria-label={`Roll back to version ${v.version}`}
                      disabled={!canModify || rollback.isPending}
                      onClick={() => rollback.mutate(v)}
                    >
                      <RotateCcw size={14} aria-hidden="true" /> Roll back
                    </button>
                  </WithTooltip>
                ) : null}
              </li>
            );
          })}
        </ol>
      )}
    </div>
  );
}
