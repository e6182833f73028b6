// The Keyledger mark: a key inside a rounded square.
export function Logo({ size = 28 }: { size?: number }) {
  return (
    <svg width={size} height={size} viewBox="0 0 32 32" aria-hidden="true" className="logo">
      <rect width="32" height="32" rx="8" fill="var(--accent)" />
      <circle cx="12.5" cy="16" r="5" fill="none" stroke="#fff" strokeWidth="2.6" />
      <path d="M17.5 16h9m-3 0v4m-3.5-4v3" stroke="#fff" strokeWidth="2.6" strokeLinecap="round" fill="none" />
    </svg>
  );
}
