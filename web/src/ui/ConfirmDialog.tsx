// A small dialog that asks before one destructive call: Cancel, or the danger button
// that runs `action`, toasts `success` and calls `onDone`; errors are toasted as the
// server's detail.
import type { ReactNode } from 'react';
import { useMutation } from '@tanstack/react-query';
import { Dialog } from './Dialog';
import { useToast } from './Toasts';

interface ConfirmDialogProps {
  title: string;
  confirmLabel: string;
  success: string;
  action: () => Promise<unknown>;
  onClose: () => void;
  onDone: () => void;
  children: ReactNode;
}

export function ConfirmDialog({ title, confirmLabel, success, action, onClose, onDone, children }: ConfirmDialogProps) {
  const toast = useToast();
  const run = useMutation({
    mutationFn: action,
    onSuccess: () => {
      toast.success(success);
      onDone();
    },
    onError: (err) => toast.error(err),
  });
  return (
    <Dialog
      title={title}
      size="sm"
      onClose={onClose}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          <button type="button" className="button button-danger" disabled={run.isPending} onClick={() => run.mutate()}>
            {confirmLabel}
          </button>
        </>
      }
    >
      {children}
    </Dialog>
  );
}
