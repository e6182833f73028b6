// Sign up (when the server's sign-up is open), then log straight in.
import { useState } from 'react';
import { Link, Navigate, useNavigate } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { api, ApiError, errorMessage } from '../api';
import { refreshMe, useMe } from '../session';
import { AuthLayout } from './AuthLayout';

export const MIN_PASSWORD_LENGTH = 10;

export function SignupPage() {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const me = useMe();

  if (me.data) return <Navigate to="/" replace />;

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(undefined);
    setFieldErrors({});
    // The server counts characters (code points), not UTF-16 units; it also refuses
    // blank and common passwords and says why in a field error shown below.
    if ([...password].length < MIN_PASSWORD_LENGTH) {
      setFieldErrors({ password: `Use at least ${MIN_PASSWORD_LENGTH} characters.` });
      return;
    }
    setBusy(true);
    try {
      await api.signup(name.trim(), email.trim(), password);
      await api.login(email.trim(), password);
      await refreshMe(queryClient);
      navigate('/', { replace: true });
    } catch (err) {
      if (err instanceof ApiError && err.errors.length > 0) {
        setFieldErrors(Object.fromEntries(err.errors.map((f) => [f.field, f.message])));
      }
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthLayout
      title="Create your account"
      subtitle="One place for your team's API keys, passwords and tokens."
      footer={
        <>
          Already have an account? <Link to="/login">Log in</Link>
        </>
      }
    >
      <form className="form" onSubmit={submit} noValidate>
        <div className="field">
          <label htmlFor="signup-name">Name</label>
          <input id="signup-name" className="input" autoComplete="name" required autoFocus value={name} onChange={(e) => setName(e.target.value)} />
          {fieldErrors.name ? <div className="field-error">{fieldErrors.name}</div> : null}
        </div>
        <div className="field">
          <label htmlFor="signup-email">Email</label>
          <input id="signup-email" className="input" type="email" autoComplete="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          {fieldErrors.email ? <div className="field-error">{fieldErrors.email}</div> : null}
        </div>
        <div className="field">
          <label htmlFor="signup-password">Password</label>
          <input
            id="signup-password"
            className="input"
            type="password"
            autoComplete="new-password"
            required
            minLength={MIN_PASSWORD_LENGTH}
            aria-describedby="signup-password-hint"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <div id="signup-password-hint" className={fieldErrors.password ? 'field-error' : 'field-hint'}>
            {fieldErrors.password ?? `At least ${MIN_PASSWORD_LENGTH} characters, and not a commonly used password.`}
          </div>
        </div>
        {error ? (
          <div className="banner banner-error" role="alert">
            {error}
          </div>
        ) : null}
        <button type="submit" className="button button-primary button-block" disabled={busy}>
          {busy ? 'Creating account…' : 'Sign up'}
        </button>
      </form>
    </AuthLayout>
  );
}
