// The header's account button: who is signed in, and "Log out".
import { useEffect, useId, useRef, useState } from 'react';
import { useNavigate } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { LogOut, Plus } from 'lucide-react';
import { api, type User } from '../api';
import { useToast } from '../ui/Toasts';
import { meQueryKey } from '../session';

function initials(user: User): string {
  const source = user.name?.trim() || user.email;
  const parts = source.split(/[\s@._-]+/).filter(Boolean);
  return ((parts[0]?.[0] ?? '') + (parts[1]?.[0] ?? '')).toUpperCase() || '?';
}

export function AccountMenu({ user, roleLabel }: { user: User; roleLabel?: string }) {
  const [open, setOpen] = useState(false);
  const menuId = useId();
  const rootRef = useRef<HTMLDivElement>(null);
  const buttonRef = useRef<HTMLButtonElement>(null);
  const itemsRef = useRef<HTMLButtonElement[]>([]);
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const toast = useToast();

  useEffect(() => {
    if (!open) return;
    itemsRef.current[0]?.focus();
    const onDown = (e: MouseEvent) => {
      if (!rootRef.current?.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener('mousedown', onDown);
    return () => document.removeEventListener('mousedown', onDown);
  }, [open]);

  const close = () => {
    setOpen(false);
    buttonRef.current?.focus();
  };

  const logOut = async () => {
    setOpen(false);
    try {
      await api.logout();
    } catch (err) {
      toast.error(err);
      return;
    }
    navigate('/login', { replace: true });
    queryClient.removeQueries({ predicate: (q) => q.queryKey[0] !== meQueryKey[0] });
    void queryClient.resetQueries({ queryKey: meQueryKey });
  };

  const onMenuKey = (e: React.KeyboardEvent) => {
    const items = itemsRef.current.filter(Boolean);
    const i = items.indexOf(document.activeElement as HTMLButtonElement);
    if (e.key === 'Escape') {
      e.preventDefault();
      close();
    } else if (e.key === 'ArrowDown') {
      e.preventDefault();
      items[(i + 1) % items.length]?.focus();
    } else if (e.key === 'ArrowUp') {
      e.preventDefault();
      items[(i - 1 + items.length) % items.length]?.focus();
    } else if (e.key === 'Tab') {
      setOpen(false);
    }
  };

  return (
    <div className="account" ref={rootRef}>
      <button
        ref={buttonRef}
        type="button"
        className="account-button"
        // The name holds the visible text, so that "click Account: Olive Owner" works by voice (WCAG 2.5.3).
        aria-label={`Account: ${user.name || user.email}`}
        aria-haspopup="menu"
        aria-expanded={open}
        aria-controls={open ? menuId : undefined}
        onClick={() => setOpen((o) => !o)}
        onKeyDown={(e) => {
          if (e.key === 'ArrowDown') {
            e.preventDefault();
            setOpen(true);
          }
        }}
      >
        {/* The initials are drawn by CSS: a picture of the name beside it, not text that a
            voice command would have to say too (WCAG 2.5.3). */}
        <span className="avatar avatar-drawn" aria-hidden="true" data-initials={initials(user)} />
        <span className="account-name" aria-hidden="true">
          {user.name || user.email}
        </span>
      </button>
      {open ? (
        <div className="menu" role="menu" id={menuId} aria-label="Account" onKeyDown={onMenuKey}>
          <div className="menu-header" role="presentation">
            <div className="menu-header-name">{user.name || user.email}</div>
            <div className="menu-header-email">{user.email}</div>
            {roleLabel ? <div className="menu-header-role">{roleLabel}{user.superadmin ? ' · Super-admin' : ''}</div> : null}
          </div>
          <button
            ref={(el) => {
              if (el) itemsRef.current[0] = el;
            }}
            type="button"
            role="menuitem"
            className="menu-item"
            onClick={() => {
              setOpen(false);
              navigate('/new-organization');
            }}
          >
            <Plus size={16} aria-hidden="true" /> New organization
          </button>
          <div className="menu-separator" role="separator" />
          <button
            ref={(el) => {
              if (el) itemsRef.current[1] = el;
            }}
            type="button"
            role="menuitem"
            className="menu-item"
            onClick={logOut}
          >
            <LogOut size={16} aria-hidden="true" /> Log out
          </button>
        </div>
      ) : null}
    </div>
  );
}
