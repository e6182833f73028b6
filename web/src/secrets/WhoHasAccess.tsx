// "Who has access": every member, platform super-admin and service token that could act on
// one secret, with what each could do, now or at an earlier instant. The server computes it
// from the event log with the same permission policy that decides every request.
import { useState } from 'react';
import { useQuery } from '@tanstack/react-query';
import { api, ApiError, type AccessAction, type AccessSubject, type SecretRow } from '../api';
import { roleLabel } from '../session';
import { formatDate, formatDateTime } from '../ui/dates';
import { SkeletonRows } from '../ui/States';
import { EnvironmentChips } from '../ui/EnvironmentCheckboxes';

const ACTION_LABEL: Record<AccessAction, string> = {
  reveal: 'Reveal',
  modify: 'Modify',
  delete: 'Delete',
  fetch: 'Fetch',
};

/** A datetime-local input's value (local time) as an RFC 3339 instant; '' is now. */
export function instantOf(local: string): string | undefined {
  if (!local) return undefined;
  const t = new Date(local);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

function CanCell({ can }: { can: AccessSubject['can'] }) {
  if (can.length === 0) return <span className="muted">View only (masked)</span>;
  return (
    <span className="chips">
      {can.map((a) => (
        <span key={a} className="chip">
          {ACTION_LABEL[a]}
        </span>
      ))}
    </span>
  );
}

function roleOf(s: AccessSubject): string {
  const role = s.role ? roleLabel(s.role) : '';
  if (!s.superadmin) return role || '—';
  return role ? `${role}, super-admin` : 'Super-admin';
}

export function WhoHasAccess({ orgId, secret }: { orgId: string; secret: SecretRow }) {
  const [asOf, setAsOf] = useState('');
  const at = instantOf(asOf);
  const review = useQuery({
    queryKey: ['org', orgId, 'secret', secret.id, 'access', at ?? 'now', secret.version],
    queryFn: () => api.accessReview(orgId, secret.id, at),
    placeholderData: (prev) => prev,
    // Membership, tokens and the reveal policy change without the secret changing: an
    // access review is asked again each time the tab opens.
    refetchOnMount: 'always',
    retry: false,
  });
  const subjects = review.data?.subjects ?? [];
  const users = subjects.filter((s) => s.kind === 'user');
  const tokens = subjects.filter((s) => s.kind === 'service_token');
  const when = at ? `at ${formatDateTime(at)}` : 'now';

  return (
    <section className="access-review" aria-label="Who has access">
      <p className="muted">
        Everyone who could act on this secret {when}, computed from the event log. Personal access tokens act as their
        user; revoked or expired tokens and removed members are not listed.
      </p>
      <div className="field access-as-of">
        <label htmlFor="access-as-of">As of</label>
        <div className="input-with-button">
          <input id="access-as-of" className="input" type="datetime-local" step="1" value={asOf} onChange={(e) => setAsOf(e.target.value)} />
          {asOf ? (
            <button type="button" className="button button-secondary" onClick={() => setAsOf('')}>
              Now
            </button>
          ) : null}
        </div>
      </div>
      {review.isError ? (
        <div className="banner banner-error" role="alert">
          {review.error instanceof ApiError ? review.error.detail : 'Who has access could not be loaded.'}
        </div>
      ) : review.isPending ? (
        <SkeletonRows rows={3} />
      ) : (
        <>
          <div className="table-scroll" tabIndex={0} role="region" aria-label="People with access">
            <table className="table">
              <caption className="access-caption">People ({users.length})</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Can</th>
                </tr>
              </thead>
              <tbody>
                {users.map((s) => (
                  <tr key={s.id}>
                    <td>
                      <span className="strong">{s.name || s.email}</span>
                      {s.name && s.email ? <span className="meta-sub">{s.email}</span> : null}
                      {s.id === review.data?.owner_id ? <span className="badge">owner of this secret</span> : null}
                    </td>
                    <td>{roleOf(s)}</td>
                    <td>
                      <CanCell can={s.can} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div className="table-scroll" tabIndex={0} role="region" aria-label="Service tokens with access">
            <table className="table">
              <caption className="access-caption">Service tokens ({tokens.length})</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Scope</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Can</th>
                </tr>
              </thead>
              <tbody>
                {tokens.length === 0 ? (
                  <tr>
                    <td colSpan={4} className="muted">
                      No service token could fetch this secret {when}.
                    </td>
                  </tr>
                ) : (
                  tokens.map((s) => (
                    <tr key={s.id}>
                      <td className="strong">{s.name}</td>
                      <td>
                        <EnvironmentChips envs={s.environments ?? []} />
                      </td>
                      <td className="muted">{s.expires_at ? formatDate(s.expires_at) : 'Never'}</td>
                      <td>
                        <CanCell can={s.can} />
                      </td>
                    </tr>
                  ))
                )}
              </tbody>
            </table>
          </div>
        </>
      )}
    </section>
  );
}
