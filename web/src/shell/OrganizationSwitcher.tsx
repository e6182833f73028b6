// The header's organization dropdown: a native select, so it is a keyboard-friendly
// combobox named "Organization" whose options are the organizations' names.
import { useLocation, useNavigate } from 'react-router';
import { Building2, ChevronsUpDown, Plus } from 'lucide-react';
import type { Membership } from '../api';
import { WithTooltip } from '../ui/IconButton';

export function OrganizationSwitcher({ orgId, memberships }: { orgId: string; memberships: Membership[] }) {
  const navigate = useNavigate();
  const location = useLocation();
  const section = location.pathname.split('/')[3] ?? 'secrets';
  const sorted = [...memberships].sort((a, b) => a.org_name.localeCompare(b.org_name));
  return (
    <div className="org-switcher">
      <Building2 size={16} aria-hidden="true" className="org-switcher-icon" />
      <select
        aria-label="Organization"
        className="org-switcher-select"
        value={orgId}
        onChange={(e) => navigate(`/orgs/${e.target.value}/${section}`)}
      >
        {sorted.map((m) => (
          <option key={m.org_id} value={m.org_id}>
            {m.org_name}
          </option>
        ))}
      </select>
      <ChevronsUpDown size={14} aria-hidden="true" className="org-switcher-chevron" />
      <WithTooltip text="New organization">
        <button type="button" className="icon-button header-button" aria-label="New organization" onClick={() => navigate('/new-organization')}>
          <Plus size={16} aria-hidden="true" />
        </button>
      </WithTooltip>
    </div>
  );
}
