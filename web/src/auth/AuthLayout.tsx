import type { ReactNode } from 'react';
import { Logo } from '../shell/Logo';
import { ThemeToggle } from '../shell/ThemeToggle';

export function AuthLayout({ title, subtitle, children, footer }: { title: string; subtitle: string; children: ReactNode; footer?: ReactNode }) {
  return (
    <div className="auth-page">
      <div className="auth-theme">
        <ThemeToggle />
      </div>
      <main className="auth-card">
        <div className="auth-brand">
          <Logo size={36} />
          <span>Keyledger</span>
        </div>
        <h1 className="auth-title">{title}</h1>
        <p className="auth-subtitle">{subtitle}</p>
        {children}
        {footer ? <div className="auth-footer">{footer}</div> : null}
      </main>
    </div>
  );
}
