// Settings → Keys: the organization's data-key versions and the button that rotates to a
// new one. New values and events are sealed with the active version; retired versions
// still open what they sealed, so a rotation never makes anything unreadable.
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { KeyRound } from 'lucide-react';
import { api, type DataKey } from '../api';
import { SkeletonRows } from '../ui/States';
import { useToast } from '../ui/Toasts';
import { formatDateTime } from '../ui/dates';

const STATE_LABEL: Record<DataKey['state'], string> = { active: 'active', retired: 'retired', destroyed: 'destroyed' };

export function DataKeysSection({ orgId }: { orgId: string }) {
  const queryClient = useQueryClient();
  const toast = useToast();
  const keys = useQuery({ queryKey: ['org', orgId, 'keys'], queryFn: () => api.listDataKeys(orgId) });
  const rotate = useMutation({
    mutationFn: () => api.rotateDataKey(orgId),
    onSuccess: ({ version }) => {
      toast.success(`Data key rotated: new data is sealed with version ${version}`);
      void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'keys'] });
    },
    onError: (err) => toast.error(err),
  });
  // Newest first: the active version leads.
  const items = [...(keys.data?.items ?? [])].sort((a, b) => b.version - a.version);

  return (
    <section className="card settings-form settings-keys" aria-labelledby="settings-keys-heading">
      <div className="settings-section">
        <div className="settings-label">
          <h2 id="settings-keys-heading">Keys</h2>
          <p>
            Values and events are encrypted with the organization's data key. Rotating adds a new version for everything
            written from now on; retired versions still decrypt what they encrypted. Keys rotate by themselves after a
            very large number of encryptions.
          </p>
        </div>
        <div>
          {keys.isPending ? (
            <SkeletonRows rows={2} />
          ) : keys.isError ? (
            <p role="alert">{keys.error instanceof Error ? keys.error.message : 'The key versions could not be loaded.'}</p>
          ) : (
            <table className="table" aria-label="Data key versions">
              <thead>
                <tr>
                  <th scope="col">Version</th>
                  <th scope="col">State</th>
                  <th scope="col">Created</th>
                </tr>
              </thead>
              <tbody>
                {items.map((k) => (
                  <tr key={k.version}>
                    <td className="strong">
                      <KeyRound size={14} aria-hidden="true" /> v{k.version}
                    </td>
                    <td>
                      <span className={`chip key-state key-${k.state}`}>{STATE_LABEL[k.state]}</span>
                    </td>
                    <td className="muted">{formatDateTime(k.created_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
      <div className="settings-actions">
        <button type="button" className="button button-secondary" disabled={rotate.isPending || keys.isPending} onClick={() => rotate.mutate()}>
          Rotate data key
        </button>
      </div>
    </section>
  );
}
