// Members: invite an existing user by email, change roles, remove. The server keeps at
// least one owner and explains a refusal in `detail`, which is shown as is.
import { useState } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { UserMinus, UserPlus, Users } from 'lucide-react';
import { api, ApiError, type Member, type Role } from '../api';
import { roleLabel, useOrgAccess } from '../session';
import { AdminOnly } from '../ui/AdminOnly';
import { ConfirmDialog } from '../ui/ConfirmDialog';
import { ListCard } from '../ui/ListCard';
import { EmptyState, PageHeader } from '../ui/States';
import { useToast } from '../ui/Toasts';
import { formatDate } from '../ui/dates';
import { useOrgList } from '../ui/useOrgList';
import { WithTooltip } from '../ui/IconButton';

const ROLES: Role[] = ['viewer', 'editor', 'admin', 'owner'];

export function MembersPage() {
  return (
    <AdminOnly title="Members" what="the member list">
      <Members />
    </AdminOnly>
  );
}

function Members() {
  const { orgId, orgName, isOwner, me } = useOrgAccess();
  const queryClient = useQueryClient();
  const toast = useToast();
  const [removing, setRemoving] = useState<Member | null>(null);
  const { list: members, items: unsorted, refresh } = useOrgList(orgId, 'members', () => api.listMembers(orgId));

  const changeRole = useMutation({
    mutationFn: ({ member, role }: { member: Member; role: Role }) => api.changeRole(orgId, member.user_id, role),
    onSuccess: (m) => {
      void refresh();
      toast.success(`${m.name || m.email} is now ${roleLabel(m.role)}`);
      if (m.user_id === me.user.id) void queryClient.invalidateQueries({ queryKey: ['me'] });
    },
    onError: (err) => {
      toast.error(err);
      void refresh();
    },
  });

  const items = [...unsorted].sort((a, b) => (a.name || a.email).localeCompare(b.name || b.email));
  const ownerCount = items.filter((m) => m.role === 'owner').length;

  return (
    <div>
      <PageHeader title="Members" description={`People who can see ${orgName}'s secrets, and what they may do.`} />
      <InviteMemberForm orgId={orgId} canAddOwner={isOwner} onAdded={() => void refresh()} />
      <ListCard
        query={members}
        isEmpty={items.length === 0}
        loadingRows={4}
        loadError="The members could not be loaded."
        empty={<EmptyState icon={<Users size={28} />} title="No members" />}
        columns={['Name', 'Email', 'Role', 'Added']}
      >
        {items.map((m) => {
          const lastOwner = m.role === 'owner' && ownerCount <= 1;
          const ownerLocked = m.role === 'owner' && !isOwner;
          const lockReason = lastOwner ? 'An organization always keeps one owner' : ownerLocked ? 'Only an owner can change an owner' : undefined;
          return (
            <tr key={m.user_id}>
              <td>
                <span className="owner-cell">
                  <span className="avatar avatar-sm" aria-hidden="true">
                    {(m.name || m.email).charAt(0).toUpperCase()}
                  </span>
                  {m.name || '—'}
                  {m.user_id === me.user.id ? <span className="badge">you</span> : null}
                </span>
              </td>
              <td className="muted">{m.email}</td>
              <td>
                <WithTooltip text={lockReason}>
                  <select
                    aria-label={`Role of ${m.email}`}
                    className="select select-sm"
                    value={m.role}
                    disabled={Boolean(lockReason) || changeRole.isPending}
                    onChange={(e) => changeRole.mutate({ member: m, role: e.target.value as Role })}
                  >
                    {ROLES.filter((r) => r !== 'owner' || isOwner || m.role === 'owner').map((r) => (
                      <option key={r} value={r}>
                        {roleLabel(r)}
                      </option>
                    ))}
                  </select>
                </WithTooltip>
              </td>
              <td className="muted">{formatDate(m.added_at)}</td>
              <td className="table-actions">
                <WithTooltip text={lockReason}>
                  <button
                    type="button"
                    className="button button-ghost-danger button-sm"
                    aria-label={`Remove ${m.email}`}
                    disabled={Boolean(lockReason)}
                    onClick={() => setRemoving(m)}
                  >
                    <UserMinus size={15} aria-hidden="true" /> Remove
                  </button>
                </WithTooltip>
              </td>
            </tr>
          );
        })}
      </ListCard>
      {removing ? (
        <RemoveMemberDialog
          orgId={orgId}
          member={removing}
          onClose={() => setRemoving(null)}
          onRemoved={() => {
            setRemoving(null);
            void refresh();
          }}
        />
      ) : null}
    </div>
  );
}

function InviteMemberForm({ orgId, canAddOwner, onAdded }: { orgId: string; canAddOwner: boolean; onAdded: () => void }) {
  const [email, setEmail] = useState('');
  const [role, setRole] = useState<Role>('editor');
  const [emailError, setEmailError] = useState<string>();
  const toast = useToast();
  const add = useMutation({
    mutationFn: () => api.addMember(orgId, email.trim(), role),
    onSuccess: (m) => {
      toast.success(`Added ${m.email} as ${roleLabel(m.role)}`);
      setEmail('');
      onAdded();
    },
    onError: (err) => {
      if (err instanceof ApiError && err.fieldError('email')) setEmailError(err.fieldError('email'));
      else toast.error(err);
    },
  });
  return (
    <form
      className="card invite-form"
      onSubmit={(e) => {
        e.preventDefault();
        setEmailError(undefined);
        add.mutate();
      }}
    >
      <div className="field field-grow">
        <label htmlFor="invite-email">Email</label>
        <input
          id="invite-email"
          className="input"
          type="email"
          required
          placeholder="teammate@example.com"
          value={email}
          aria-invalid={Boolean(emailError)}
          onChange={(e) => {
            setEmail(e.target.value);
            setEmailError(undefined);
          }}
        />
        {emailError ? (
          <div className="field-error" role="alert">
            {emailError}
          </div>
        ) : (
          <div className="field-hint">The person needs a Keyledger account already.</div>
        )}
      </div>
      <div className="field">
        <label htmlFor="invite-role">Role</label>
        <select id="invite-role" className="select" value={role} onChange={(e) => setRole(e.target.value as Role)}>
          {ROLES.filter((r) => r !== 'owner' || canAddOwner).map((r) => (
            <option key={r} value={r}>
              {roleLabel(r)}
            </option>
          ))}
        </select>
        <div className="field-hint">&nbsp;</div>
      </div>
      <div className="field field-button">
        <button type="submit" className="button button-primary" disabled={add.isPending || !email.trim()}>
          <UserPlus size={16} aria-hidden="true" /> Invite member
        </button>
        <div className="field-hint">&nbsp;</div>
      </div>
    </form>
  );
}

function RemoveMemberDialog({ orgId, member, onClose, onRemoved }: { orgId: string; member: Member; onClose: () => void; onRemoved: () => void }) {
  return (
    <ConfirmDialog
      title="Remove member"
      confirmLabel="Remove"
      success={`Removed ${member.email}`}
      action={() => api.removeMember(orgId, member.user_id)}
      onClose={onClose}
      onDone={onRemoved}
    >
      <p>
        <strong>{member.name || member.email}</strong> will lose access to this organization's secrets at once. The secrets they own stay,
        and admins can still manage them.
      </p>
    </ConfirmDialog>
  );
}
