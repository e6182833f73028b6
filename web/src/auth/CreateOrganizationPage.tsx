// Create an organization: the first step after signing up, and "New organization" later.
import { useState } from 'react';
import { Link, Navigate, useNavigate } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { api, errorMessage } from '../api';
import { refreshMe, useMe } from '../session';
import { AuthLayout } from './AuthLayout';
import { FullPageLoading } from '../ui/States';

export function CreateOrganizationPage() {
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const me = useMe();

  if (me.isPending) return <FullPageLoading />;
  if (!me.data) return <Navigate to="/login" replace />;
  const first = me.data.memberships.length === 0;

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const org = await api.createOrg(name.trim());
      await refreshMe(queryClient);
      navigate(`/orgs/${org.id}/secrets`, { replace: true });
    } catch (err) {
      setError(errorMessage(err));
      setBusy(false);
    }
  };

  return (
    <AuthLayout
      title={first ? 'Create your organization' : 'New organization'}
      subtitle={
        first
          ? `Welcome, ${me.data.user.name || me.data.user.email}. Secrets, members and audit logs belong to an organization.`
          : 'Each organization has its own secrets, members and audit trail, completely separate from the others.'
      }
      footer={first ? undefined : <Link to="/">Back to the dashboard</Link>}
    >
      <form className="form" onSubmit={submit}>
        <div className="field">
          <label htmlFor="org-name">Organization name</label>
          <input id="org-name" className="input" required autoFocus placeholder="Acme Inc." value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        {error ? (
          <div className="banner banner-error" role="alert">
            {error}
          </div>
        ) : null}
        <button type="submit" className="button button-primary button-block" disabled={busy || !name.trim()}>
          {busy ? 'Creating…' : 'Create organization'}
        </button>
      </form>
    </AuthLayout>
  );
}
