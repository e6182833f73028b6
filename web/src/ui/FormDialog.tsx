// A dialog that is one form (create a service token, add a webhook): the fields, then
// Cancel and the submit button in the footer, which submits the form by its id so that
// Enter in a field and the button do the same thing.
import type { ReactNode } from 'react';
import { Dialog } from './Dialog';

interface FormDialogProps {
  title: string;
  /** The form's id, which the footer's submit button names. */
  formId: string;
  submitLabel: string;
  /** False while the form is not complete, and while it is being sent. */
  canSubmit: boolean;
  onSubmit: () => void;
  onClose: () => void;
  children: ReactNode;
}

export function FormDialog({ title, formId, submitLabel, canSubmit, onSubmit, onClose, children }: FormDialogProps) {
  return (
    <Dialog
      title={title}
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" form={formId} className="button button-primary" disabled={!canSubmit}>
            {submitLabel}
          </button>
        </>
      }
    >
      <form
        id={formId}
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          onSubmit();
        }}
      >
        {children}
      </form>
    </Dialog>
  );
}
