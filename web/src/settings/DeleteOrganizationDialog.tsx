// Deleting an organization is crypto-shredding: its data keys are destroyed and nothing of it
// can be read again. The user types the organization's exact name to confirm, as with the
// typed "delete" of a secret; afterwards they land on another organization (or on the page
// that creates one).
import { useRef, useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from 'react-router';
import { TriangleAlert } from 'lucide-react';
import { api } from '../api';
import { refreshMe } from '../session';
import { Dialog } from '../ui/Dialog';
import { isTypedConfirmed, TypedConfirmField } from '../ui/TypedConfirmField';
import { useToast } from '../ui/Toasts';

interface DeleteOrganizationDialogProps {
  orgId: string;
  orgName: string;
  onClose: () => void;
}

/** The confirmation matches only the organization's name exactly: no trimming, no case folding. */
export function isOrgNameConfirmed(typed: string, orgName: string): boolean {
  return isTypedConfirmed(typed, orgName);
}

export function DeleteOrganizationDialog({ orgId, orgName, onClose }: DeleteOrganizationDialogProps) {
  const [typed, setTyped] = useState('');
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const toast = useToast();
  // The organization, and the page that opened this dialog, are gone after a success.
  const erased = useRef(false);

  const erase = useMutation({
    mutationFn: () => api.eraseOrg(orgId, typed),
    onSuccess: async () => {
      erased.current = true;
      toast.success(`Deleted ${orgName}`);
      try {
        await refreshMe(queryClient);
      } catch {
        // The home page reloads the memberships itself.
      }
      queryClient.removeQueries({ queryKey: ['org', orgId] });
      navigate('/', { replace: true });
    },
    onError: (err) => toast.error(err),
  });

  const confirmed = isOrgNameConfirmed(typed, orgName);

  return (
    <Dialog
      title="Delete organization"
      size="sm"
      onClose={onClose}
      openerGone={() => erased.current}
      footer={
        <>
          <button type="button" className="button button-secondary" onClick={onClose}>
            Cancel
          </button>
          <button
            type="submit"
            form="delete-org-form"
            className="button button-danger"
            disabled={!confirmed}
            aria-disabled={erase.isPending || undefined}
            aria-busy={erase.isPending || undefined}
          >
            Delete organization
          </button>
        </>
      }
    >
      <form
        id="delete-org-form"
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (confirmed && !erase.isPending) erase.mutate();
        }}
      >
        <div className="danger-callout">
          <TriangleAlert size={18} aria-hidden="true" />
          <div>
            <p>
              This destroys the encryption keys of <strong>{orgName}</strong>. Every secret and value, its version history,
              members, service tokens, webhooks and audit trail become unreadable for good, for everyone, backups of the log
              included. Integrations using its tokens stop at once. This cannot be undone.
            </p>
            <p>The erasure itself (who, when, from where) is kept in the platform audit trail.</p>
          </div>
        </div>
        <TypedConfirmField
          id="delete-org-confirm"
          word={orgName}
          label="Type the organization's name to confirm"
          value={typed}
          onChange={setTyped}
        />
      </form>
    </Dialog>
  );
}
