// The page header's button that starts adding to the page's list ("Add webhook",
// "Create token"): primary, with a plus before its label.
import { Plus } from 'lucide-react';

export function AddButton({ label, onClick }: { label: string; onClick: () => void }) {
  return (
    <button type="button" className="button button-primary" onClick={onClick}>
      <Plus size={16} aria-hidden="true" /> {label}
    </button>
  );
}
