// "+ Add Secret": a name (upper-cased as typed), an optional description, and a value for
// the current environment or for all three. A taken name shows the server's message inline.
import { useRef, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, ApiError, ENVIRONMENTS, newIdempotencyKey, type EnvSlug, type NewSecret, type SecretRow } from '../api';
import { Dialog } from '../ui/Dialog';
import { useToast } from '../ui/Toasts';
import { normalizeSecretNameInput, secretNameProblem } from './secretName';

interface AddSecretDialogProps {
  orgId: string;
  /** The environment on screen: its value field comes first. */
  currentEnv: EnvSlug | 'all';
  onClose: () => void;
  onCreated: (row: SecretRow) => void;
}

export function AddSecretDialog({ orgId, currentEnv, onClose, onCreated }: AddSecretDialogProps) {
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [values, setValues] = useState<Record<EnvSlug, string>>({ development: '', staging: '', production: '' });
  const [touched, setTouched] = useState(false);
  const [serverErrors, setServerErrors] = useState<Record<string, string>>({});
  const idempotencyKey = useRef(newIdempotencyKey());
  const queryClient = useQueryClient();
  const toast = useToast();

  const envs = currentEnv === 'all' ? ENVIRONMENTS : [...ENVIRONMENTS].sort((a, b) => Number(b.slug === currentEnv) - Number(a.slug === currentEnv));

  const create = useMutation({
    mutationFn: (body: NewSecret) => api.createSecret(orgId, body, idempotencyKey.current),
    onSuccess: (row) => {
      void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secrets'] });
      toast.success(`Created ${row.name}`);
      onCreated(row);
    },
    onError: (err) => {
      // A new attempt after a failure is a new command, not a retry of the same one.
      idempotencyKey.current = newIdempotencyKey();
      if (err instanceof ApiError && (err.code === 'secret_name_taken' || err.status === 422 || err.status === 413)) {
        const fieldErrors: Record<string, string> = {};
        if (err.code === 'secret_name_taken') fieldErrors.name = err.detail;
        for (const e of err.errors) fieldErrors[e.field.replace(/^values\./, '')] = e.message;
        if (Object.keys(fieldErrors).length === 0) fieldErrors.form = err.detail;
        setServerErrors(fieldErrors);
        return;
      }
      toast.error(err);
    },
  });

  const nameProblem = secretNameProblem(name);
  const submit = (e: React.FormEvent) => {
    e.preventDefault();
    if (create.isPending) return;
    setTouched(true);
    if (nameProblem) return;
    const body: NewSecret = { name: name.trim() };
    if (description.trim()) body.description = description.trim();
    const filled = Object.fromEntries(Object.entries(values).filter(([, v]) => v !== '')) as Partial<Record<EnvSlug, string>>;
    if (Object.keys(filled).length > 0) body.values = filled;
    setServerErrors({});
    create.mutate(body);
  };

  const nameError = serverErrors.name ?? (touched ? nameProblem : undefined);

  return (
    <Dialog
      title="Add Secret"
      subtitle="Values are encrypted before they are stored. Leave an environment empty to set it later."
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          {/* aria-disabled, not disabled, while creating: the button keeps keyboard focus. */}
          <button type="submit" form="add-secret-form" className="button button-primary" aria-disabled={create.isPending || undefined}>
            {create.isPending ? 'Creating…' : 'Create Secret'}
          </button>
        </>
      }
    >
      <form id="add-secret-form" className="form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="secret-name">Name</label>
          <input
            id="secret-name" data-autofocus
            className="input input-mono"
            value={name}
            autoComplete="off"
            spellCheck={false}
            placeholder="STRIPE_SECRET_KEY"
            maxLength={128}
            aria-invalid={Boolean(nameError)}
            aria-describedby="secret-name-hint"
            onChange={(e) => {
              setName(normalizeSecretNameInput(e.target.value));
              setServerErrors(({ name: _removed, ...rest }) => rest);
            }}
          />
          <div id="secret-name-hint" className={nameError ? 'field-error' : 'field-hint'} role={nameError ? 'alert' : undefined}>
            {nameError ?? 'Upper-case letters, digits and underscores.'}
          </div>
        </div>
        <div className="field">
          <label htmlFor="secret-description">
            Description <span className="optional" aria-hidden="true">optional</span>
          </label>
          <input
            id="secret-description"
            className="input"
            value={description}
            maxLength={1000}
            placeholder="What is it for, and who rotates it?"
            onChange={(e) => setDescription(e.target.value)}
          />
        </div>
        <fieldset className="fieldset">
          <legend>Values</legend>
          {envs.map((env) => (
            <div className="field" key={env.slug}>
              <label htmlFor={`secret-value-${env.slug}`}>
                {env.name} value
                {env.slug === currentEnv ? (
                  <span className="badge badge-accent" aria-hidden="true">
                    current
                  </span>
                ) : null}
              </label>
              <textarea
                id={`secret-value-${env.slug}`}
                className="input input-mono textarea-value"
                rows={1}
                value={values[env.slug]}
                spellCheck={false}
                autoComplete="off"
                placeholder={`Value in ${env.name}`}
                aria-invalid={Boolean(serverErrors[env.slug])}
                onChange={(e) => setValues((v) => ({ ...v, [env.slug]: e.target.value }))}
              />
              {serverErrors[env.slug] ? <div className="field-error">{serverErrors[env.slug]}</div> : null}
            </div>
          ))}
        </fieldset>
        {serverErrors.form ? (
          <div className="field-error" role="alert">
            {serverErrors.form}
          </div>
        ) : null}
      </form>
    </Dialog>
  );
}
