// Settings → Danger zone: deleting the organization, for its owners (and super-admins).
import { useState } from 'react';
import { useOrgAccess } from '../session';
import { DeleteOrganizationDialog } from './DeleteOrganizationDialog';

export function DangerZone() {
  const { orgId, orgName, isOwner } = useOrgAccess();
  const [open, setOpen] = useState(false);
  if (!isOwner) return null;
  return (
    <section className="card settings-form danger-zone" aria-labelledby="danger-zone-title">
      <div className="settings-section">
        <div className="settings-label">
          <h2 id="danger-zone-title">Danger zone</h2>
          <p>Only owners can delete the organization.</p>
        </div>
        <div className="danger-zone-row">
          <p>
            Deleting the organization destroys its encryption keys: its secrets, members, tokens and audit trail can never be
            read again.
          </p>
          <button type="button" className="button button-danger" onClick={() => setOpen(true)}>
            Delete organization
          </button>
        </div>
      </div>
      {open ? <DeleteOrganizationDialog orgId={orgId} orgName={orgName} onClose={() => setOpen(false)} /> : null}
    </section>
  );
}
