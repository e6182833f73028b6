// Deleting asks the user to type "delete". In an environment view the default is to remove
// that environment's value only; removing the whole secret is a separate, explicit choice.
import { useRef, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { TriangleAlert } from 'lucide-react';
import { api, environmentName, type EnvSlug, type SecretRow } from '../api';
import { Dialog } from '../ui/Dialog';
import { TypedConfirmField } from '../ui/TypedConfirmField';
import { useToast } from '../ui/Toasts';
import { DELETE_CONFIRMATION_WORD, isDeleteConfirmed } from './deleteConfirm';

interface DeleteSecretDialogProps {
  orgId: string;
  secret: SecretRow;
  /** The environment on screen; undefined in "All environments". */
  env?: EnvSlug;
  onClose: () => void;
  onDeleted: (scope: 'env' | 'secret') => void;
}

export function DeleteSecretDialog({ orgId, secret, env, onClose, onDeleted }: DeleteSecretDialogProps) {
  const [scope, setScope] = useState<'env' | 'secret'>(env ? 'env' : 'secret');
  const [typed, setTyped] = useState('');
  const queryClient = useQueryClient();
  const toast = useToast();
  const envName = env ? environmentName(env) : '';
  // A deleted secret, or the only value the view shows, takes its row (and the button that
  // opened this dialog) with it.
  const deleted = useRef(false);

  const remove = useMutation({
    mutationFn: () => api.deleteSecret(orgId, secret.id, scope === 'env' ? env : undefined),
    onSuccess: () => {
      deleted.current = true;
      void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secrets'] });
      void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secret', secret.id] });
      toast.success(scope === 'env' ? `Deleted the ${envName} value of ${secret.name}` : `Deleted ${secret.name}`);
      onDeleted(scope);
    },
    onError: (err) => toast.error(err),
  });

  const confirmed = isDeleteConfirmed(typed);
  const otherEnvs = Object.entries(secret.environments)
    .filter(([slug, v]) => v.set && slug !== env)
    .map(([slug]) => environmentName(slug));

  return (
    <Dialog
      title="Delete secret"
      size="sm"
      onClose={onClose}
      openerGone={() => deleted.current}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            form="delete-secret-form"
            className="button button-danger"
            disabled={!confirmed}
            aria-disabled={remove.isPending || undefined}
          >
            Delete
          </button>
        </>
      }
    >
      <form
        id="delete-secret-form"
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (confirmed && !remove.isPending) remove.mutate();
        }}
      >
        <div className="danger-callout">
          <TriangleAlert size={18} aria-hidden="true" />
          <div>
            {scope === 'env' ? (
              <p>
                This deletes the <strong>{envName}</strong> value of <code>{secret.name}</code> only.{' '}
                {otherEnvs.length === 0
                  ? 'No other environment has a value.'
                  : otherEnvs.length === 1
                    ? `Its ${otherEnvs[0]} value is kept.`
                    : `Its ${otherEnvs.join(' and ')} values are kept.`}
              </p>
            ) : (
              <p>
                This deletes <code>{secret.name}</code> in every environment, with its values and description. Its name becomes free
                again. The audit trail keeps the history.
              </p>
            )}
          </div>
        </div>
        {env ? (
          <fieldset className="fieldset scope-choice">
            <legend>What to delete</legend>
            <label className="radio">
              <input type="radio" name="delete-scope" checked={scope === 'env'} onChange={() => setScope('env')} />
              <span>
                Only the {envName} value
              </span>
            </label>
            <label className="radio">
              <input type="radio" name="delete-scope" checked={scope === 'secret'} onChange={() => setScope('secret')} />
              <span>The whole secret, in all environments</span>
            </label>
          </fieldset>
        ) : null}
        <TypedConfirmField
          id="delete-confirm"
          word={DELETE_CONFIRMATION_WORD}
          label="Type delete to confirm"
          value={typed}
          onChange={setTyped}
        />
      </form>
    </Dialog>
  );
}
