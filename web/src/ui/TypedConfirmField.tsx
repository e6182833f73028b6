// A destructive action is confirmed by typing a word exactly (the secret dialog's "delete",
// the organization's own name): no trimming, no case folding, so that it is always
// deliberate. Both delete dialogs use this one field and this one rule.

/** True when typed is exactly word (and word is not empty). */
export function isTypedConfirmed(typed: string, word: string): boolean {
  return word !== '' && typed === word;
}

interface TypedConfirmFieldProps {
  id: string;
  /** What must be typed. */
  word: string;
  /** The textbox's accessible name (UI.md), e.g. "Type delete to confirm". */
  label: string;
  value: string;
  onChange: (value: string) => void;
}

export function TypedConfirmField({ id, word, label, value, onChange }: TypedConfirmFieldProps) {
  return (
    <div className="field">
      <label htmlFor={id}>
        Type <code>{word}</code> to confirm
      </label>
      <input
        id={id}
        data-autofocus
        aria-label={label}
        className="input"
        value={value}
        autoComplete="off"
        spellCheck={false}
        onChange={(e) => onChange(e.target.value)}
      />
    </div>
  );
}
