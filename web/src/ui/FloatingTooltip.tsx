// Tooltips drawn in <body> with fixed positioning, so that no scroll container clips them
// (AG Grid's rows and pinned columns hide overflow). They show on hover and on keyboard focus.
import { useCallback, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import { createPortal } from 'react-dom';

interface Placement {
  x: number;
  y: number;
  below: boolean;
}

const GAP = 6;
const ROOM_NEEDED = 40;
const EDGE = 8;

/** The bubble, nudged back inside the window when it would overflow an edge. */
function Bubble({ text, at }: { text: string; at: Placement }) {
  const ref = useRef<HTMLDivElement>(null);
  const [shift, setShift] = useState(0);
  useLayoutEffect(() => {
    const r = ref.current?.getBoundingClientRect();
    if (!r) return;
    const overRight = r.right - (window.innerWidth - EDGE);
    const overLeft = EDGE - r.left;
    setShift(overRight > 0 ? -overRight : overLeft > 0 ? overLeft : 0);
  }, [at.x, at.y, text]);
  return (
    <div ref={ref} className={`floating-tooltip${at.below ? ' below' : ''}`} style={{ left: at.x + shift, top: at.y }} aria-hidden="true">
      {text}
    </div>
  );
}

export function useFloatingTooltip(text: string | undefined) {
  const [at, setAt] = useState<Placement | null>(null);
  const show = useCallback((el: Element) => {
    const r = el.getBoundingClientRect();
    const below = r.top < ROOM_NEEDED;
    setAt({ x: r.left + r.width / 2, y: below ? r.bottom + GAP : r.top - GAP, below });
  }, []);
  const hide = useCallback(() => setAt(null), []);
  const handlers = {
    onPointerEnter: (e: React.PointerEvent) => show(e.currentTarget),
    onPointerLeave: hide,
    onFocus: (e: React.FocusEvent) => {
      if ((e.target as HTMLElement).matches(':focus-visible')) show(e.currentTarget);
    },
    onBlur: hide,
  };
  const tooltip: ReactNode =
    text && at
      ? createPortal(<Bubble text={text} at={at} />, document.body)
      : null;
  return { handlers, tooltip, hide };
}
