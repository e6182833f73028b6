// Organization settings: its name and whether members may reveal values in the dashboard.
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { api, type RevealPolicy } from '../api';
import { useOrgAccess } from '../session';
import { AdminOnly } from '../ui/AdminOnly';
import { PageHeader } from '../ui/States';
import { useToast } from '../ui/Toasts';
import { formatDate } from '../ui/dates';
import { DataKeysSection } from './DataKeys';
import { DangerZone } from './DangerZone';
import { SettingsNav } from './SettingsNav';

export function SettingsPage() {
  return (
    <AdminOnly title="Settings" what="the organization's settings">
      <Settings />
    </AdminOnly>
  );
}

function Settings() {
  const { orgId, org, orgName } = useOrgAccess();
  // The fields show the organization as stored until the user edits them, and the edit
  // from then on, until it is saved: details that arrive (or are fetched again) while
  // the form is open must not undo it. The form used to copy the details into its state
  // whenever they changed, and a reveal policy chosen before they had first arrived was
  // set back to the stored one.
  const [nameEdit, setName] = useState<string | null>(null);
  const [policyEdit, setPolicy] = useState<RevealPolicy | null>(null);
  const name = nameEdit ?? orgName;
  const policy = policyEdit ?? org?.reveal_policy ?? 'allowed';
  const queryClient = useQueryClient();
  const toast = useToast();

  const patch: { name?: string; reveal_policy?: RevealPolicy } = {};
  if (name.trim() && name.trim() !== orgName) patch.name = name.trim();
  if (org && policy !== org.reveal_policy) patch.reveal_policy = policy;
  const dirty = Object.keys(patch).length > 0;

  const save = useMutation({
    mutationFn: () => api.updateOrg(orgId, patch),
    onSuccess: (updated) => {
      // Edits the organization now holds are done; one made while saving stays.
      setName((edit) => (edit !== null && edit.trim() === updated.name ? null : edit));
      setPolicy((edit) => (edit === updated.reveal_policy ? null : edit));
      queryClient.setQueryData(['org', orgId, 'details'], updated);
      void queryClient.invalidateQueries({ queryKey: ['me'] });
      void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secrets'] });
      toast.success('Settings saved');
    },
    onError: (err) => toast.error(err),
  });

  return (
    <div>
      <PageHeader title="Settings" description={org ? `Created ${formatDate(org.created_at)}` : undefined} />
      <SettingsNav orgId={orgId} />
      <form
        className="card settings-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (dirty) save.mutate();
        }}
      >
        <section className="settings-section">
          <div className="settings-label">
            <h2>General</h2>
            <p>Shown in the organization switcher and in the audit trail.</p>
          </div>
          <div className="field">
            <label htmlFor="settings-org-name">Organization name</label>
            <input id="settings-org-name" className="input" value={name} onChange={(e) => setName(e.target.value)} />
          </div>
        </section>
        <section className="settings-section">
          <div className="settings-label">
            <h2>Reveal policy</h2>
            <p>Whether members may reveal and copy plaintext values in the dashboard. Every reveal is audited.</p>
          </div>
          <fieldset className="fieldset radio-cards">
            <legend className="visually-hidden">Reveal policy</legend>
            <label className={`radio-card${policy === 'allowed' ? ' selected' : ''}`}>
              <input type="radio" name="reveal-policy" value="allowed" checked={policy === 'allowed'} onChange={() => setPolicy('allowed')} />
              <span>
                <strong>Allowed</strong>
                <span className="muted">Members can reveal values for 30 seconds.</span>
              </span>
            </label>
            <label className={`radio-card${policy === 'disabled' ? ' selected' : ''}`}>
              <input type="radio" name="reveal-policy" value="disabled" checked={policy === 'disabled'} onChange={() => setPolicy('disabled')} />
              <span>
                <strong>Disabled</strong>
                <span className="muted">Values stay masked; only integrations can read them.</span>
              </span>
            </label>
          </fieldset>
        </section>
        <div className="settings-actions">
          <button type="submit" className="button button-primary" disabled={!dirty || save.isPending}>
            {save.isPending ? 'Saving…' : 'Save changes'}
          </button>
        </div>
      </form>
      <DataKeysSection orgId={orgId} />
      <DangerZone />
    </div>
  );
}
