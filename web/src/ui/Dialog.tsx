// A modal dialog on the native <dialog> element: focus is trapped by the browser, Escape
// closes it, and the title names it for assistive technology. Focus goes back to the control
// that opened it when it closes (UI.md), which the browser alone does not do here: React
// removes the <dialog> from the page while it is still open, and focus then falls to <body>.
import { useId, useLayoutEffect, useRef, type ReactNode } from 'react';
import { createPortal } from 'react-dom';
import { X } from 'lucide-react';

interface DialogProps {
  title: ReactNode;
  /** Plain-text accessible name, when the visible title is not plain text. */
  label?: string;
  subtitle?: ReactNode;
  onClose: () => void;
  children: ReactNode;
  footer?: ReactNode;
  size?: 'sm' | 'md' | 'lg';
  className?: string;
  /**
   * Asked when the dialog closes: true when the control that opened it is about to go (its
   * row was just deleted), so focus goes to the main content instead of into a row that a
   * refetch removes a moment later.
   */
  openerGone?: () => boolean;
}

/**
 * While a modal is open, the app behind it is aria-hidden as well as inert, so that assistive
 * technology and role-based tests see the dialog's controls only (a "Delete" in the dialog,
 * not also every row's "Delete secret"). Dialogs render into <body>, outside #root.
 */
let openDialogs = 0;
function hideAppBehind(): () => void {
  const root = document.getElementById('root');
  openDialogs += 1;
  root?.setAttribute('aria-hidden', 'true');
  return () => {
    openDialogs -= 1;
    if (openDialogs === 0) root?.removeAttribute('aria-hidden');
  };
}

/**
 * Where focus goes when a dialog closes: the control that opened it, or, when that control is
 * gone (the row just deleted) or was never focused (a deep link, a keyboard shortcut), the
 * main content, so that the next Tab continues from the page and not from the top.
 */
function restoreFocus(opener: Element | null): void {
  if (opener instanceof HTMLElement && opener.isConnected && opener !== document.body) {
    opener.focus();
    if (document.activeElement === opener) return;
  }
  document.getElementById(MAIN_CONTENT_ID)?.focus();
}

/** The id of the <main> element that the skip link and closing dialogs lead to. */
export const MAIN_CONTENT_ID = 'main-content';

export function Dialog({ title, label, subtitle, onClose, children, footer, size = 'md', className, openerGone }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;
  const openerGoneRef = useRef(openerGone);
  openerGoneRef.current = openerGone;

  // Layout effects: their clean-up runs while the <dialog> is still in the page (a passive
  // effect's runs after React has removed it), so closing it can hand focus back in time.
  useLayoutEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    const opener = document.activeElement;
    const showApp = hideAppBehind();
    if (!dialog.open) dialog.showModal();
    // showModal focuses the first focusable element (the close button); move focus to the
    // field the dialog is about instead, when it marks one.
    dialog.querySelector<HTMLElement>('[data-autofocus]')?.focus();
    const onCancel = (e: Event) => {
      e.preventDefault();
      onCloseRef.current();
    };
    dialog.addEventListener('cancel', onCancel);
    return () => {
      dialog.removeEventListener('cancel', onCancel);
      const hadFocus = dialog.contains(document.activeElement) || document.activeElement === document.body;
      if (dialog.open) dialog.close();
      showApp();
      if (hadFocus) restoreFocus(openerGoneRef.current?.() ? null : opener);
    };
  }, []);

  return createPortal(
    <dialog
      ref={ref}
      className={`dialog dialog-${size} ${className ?? ''}`}
      aria-labelledby={label ? undefined : titleId}
      aria-label={label}
    >
      <header className="dialog-header">
        <div className="dialog-heading">
          <h2 id={titleId} className="dialog-title">
            {title}
          </h2>
          {subtitle ? <div className="dialog-subtitle">{subtitle}</div> : null}
        </div>
        <button type="button" className="icon-button" aria-label="Close dialog" onClick={onClose}>
          <X size={18} aria-hidden="true" />
        </button>
      </header>
      <div className="dialog-body">{children}</div>
      {footer ? <footer className="dialog-footer">{footer}</footer> : null}
    </dialog>,
    document.body,
  );
}
