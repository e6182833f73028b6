// A modal dialog on the native <dialog> element: focus is trapped and restored by the
// browser, Escape closes it, and the title names it for assistive technology.
import { useEffect, useId, useRef, type ReactNode } from 'react';
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
  /** Set when closing would lose work; Escape then asks the caller via onClose anyway. */
  className?: string;
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

export function Dialog({ title, label, subtitle, onClose, children, footer, size = 'md', className }: DialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const onCloseRef = useRef(onClose);
  onCloseRef.current = onClose;

  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
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
      if (dialog.open) dialog.close();
      showApp();
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
