// Small icon-only buttons with an accessible name and a tooltip. When the user's role does
// not allow the action, the button is disabled and the tooltip says why. While busy it is
// aria-disabled, not disabled: a disabled button loses keyboard focus (UI.md).
import { forwardRef, useId, type ReactNode } from 'react';
import { useFloatingTooltip } from './FloatingTooltip';

interface IconButtonProps {
  label: string;
  icon: ReactNode;
  onClick?: () => void;
  /** When set, the button is disabled and this sentence is shown as its tooltip. */
  disabledReason?: string;
  /** While set, clicks are ignored and the button says it is busy, but it keeps focus. */
  busy?: boolean;
  tone?: 'default' | 'danger' | 'active';
  pressed?: boolean;
}

export const IconButton = forwardRef<HTMLButtonElement, IconButtonProps>(function IconButton(
  { label, icon, onClick, disabledReason, busy, tone = 'default', pressed },
  ref,
) {
  const reasonId = useId();
  const text = disabledReason ?? label;
  const { handlers, tooltip, hide } = useFloatingTooltip(text);
  return (
    <span className="tooltip-host" data-tooltip={text} {...handlers}>
      <button
        ref={ref}
        type="button"
        className={`icon-button icon-button-${tone}`}
        aria-label={label}
        aria-pressed={pressed}
        aria-describedby={disabledReason ? reasonId : undefined}
        aria-busy={busy || undefined}
        aria-disabled={busy || undefined}
        disabled={Boolean(disabledReason)}
        onClick={(e) => {
          e.stopPropagation();
          hide();
          if (busy) return;
          onClick?.();
        }}
      >
        {icon}
      </button>
      {disabledReason ? (
        <span id={reasonId} className="visually-hidden">
          {disabledReason}
        </span>
      ) : null}
      {tooltip}
    </span>
  );
});

/** Wraps any control with a hover tooltip, e.g. a disabled primary button. */
export function WithTooltip({ text, children }: { text?: string; children: ReactNode }) {
  const { handlers, tooltip } = useFloatingTooltip(text);
  if (!text) return <>{children}</>;
  return (
    <span className="tooltip-host" data-tooltip={text} {...handlers}>
      {children}
      {tooltip}
    </span>
  );
}
