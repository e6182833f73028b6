// The left sidebar: the product mark and the main navigation of the organization on screen.
import { NavLink } from 'react-router';
import { ClipboardList, KeyRound, Settings, Users, Webhook } from 'lucide-react';
import { Logo } from './Logo';

const LINKS = [
  { to: 'secrets', label: 'Secrets', icon: KeyRound },
  { to: 'audit', label: 'Audit Logs', icon: ClipboardList },
  { to: 'members', label: 'Members', icon: Users },
  { to: 'service-tokens', label: 'Service Tokens', icon: Webhook },
  { to: 'settings', label: 'Settings', icon: Settings },
] as const;

export function Sidebar({ orgId }: { orgId: string }) {
  return (
    <aside className="sidebar">
      <div className="sidebar-brand">
        <Logo />
        <span className="sidebar-brand-name">Keyledger</span>
      </div>
      <nav aria-label="Main" className="sidebar-nav">
        {LINKS.map(({ to, label, icon: Icon }) => (
          <NavLink
            key={to}
            to={`/orgs/${orgId}/${to}`}
            className={({ isActive }) => `sidebar-link${isActive ? ' active' : ''}`}
            title={label}
          >
            <Icon size={18} aria-hidden="true" />
            <span className="sidebar-link-label">{label}</span>
          </NavLink>
        ))}
      </nav>
      <div className="sidebar-footer">
        <span className="sidebar-footer-text">Values are encrypted with AES-256-GCM</span>
      </div>
    </aside>
  );
}
