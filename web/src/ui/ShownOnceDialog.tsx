// A credential the server shows once (a service token, a webhook's signing secret): a
// warning that it cannot be seen again, the value in a read-only field with a copy
// button, and Done. The field is focused and selects itself, for a quick copy.
import type { ReactNode } from 'react';
import { Copy } from 'lucide-react';
import { copyText } from '../secrets/clipboard';
import { Dialog } from './Dialog';
import { useToast } from './Toasts';

interface ShownOnceDialogProps {
  title: string;
  /** The warning above the field, e.g. "Copy the token for … now. It is shown only once …". */
  warning: ReactNode;
  /** The field's id and label (its accessible name). */
  fieldId: string;
  fieldLabel: string;
  value: string;
  /** The copy button's text and the toast after a copy. */
  copyLabel: string;
  copied: string;
  /** Said under the field, when there is more to know (how the value is used). */
  hint?: ReactNode;
  onClose: () => void;
}

export function ShownOnceDialog({ title, warning, fieldId, fieldLabel, value, copyLabel, copied, hint, onClose }: ShownOnceDialogProps) {
  const toast = useToast();
  return (
    <Dialog
      title={title}
      onClose={onClose}
      footer={
        <button type="button" className="button button-primary" onClick={onClose}>
          Done
        </button>
      }
    >
      <div className="banner banner-warning" role="status">
        {warning}
      </div>
      <div className="field">
        <label htmlFor={fieldId}>{fieldLabel}</label>
        <div className="input-with-button">
          <input id={fieldId} data-autofocus className="input input-mono input-readonly" readOnly value={value} onFocus={(e) => e.target.select()} />
          <button
            type="button"
            className="button button-secondary"
            onClick={() => void copyText(value).then(() => toast.success(copied), (err: unknown) => toast.error(err))}
          >
            <Copy size={15} aria-hidden="true" /> {copyLabel}
          </button>
        </div>
        {hint ? <div className="field-hint">{hint}</div> : null}
      </div>
    </Dialog>
  );
}
