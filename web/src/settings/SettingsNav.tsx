// The sections of an organization's settings, as links: each is a page of its own.
import { NavLink } from 'react-router';

export function SettingsNav({ orgId }: { orgId: string }) {
  const base = `/orgs/${encodeURIComponent(orgId)}/settings`;
  const cls = ({ isActive }: { isActive: boolean }) => `tab${isActive ? ' active' : ''}`;
  return (
    <nav className="tabs" aria-label="Settings sections">
      <NavLink end to={base} className={cls}>
        General
      </NavLink>
      <NavLink to={`${base}/webhooks`} className={cls}>
        Webhooks
      </NavLink>
    </nav>
  );
}
