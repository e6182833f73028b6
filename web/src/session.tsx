// The signed-in user and their memberships (GET /me), and the organization being viewed.
import { createContext, useContext, type ReactNode } from 'react';
import { useQuery, type QueryClient } from '@tanstack/react-query';
import { ADMIN_PRIORITY, api, ApiError, ROLE_PRIORITY, SUPERADMIN_PRIORITY, type Me, type Organization, type Role } from './api';

export const meQueryKey = ['me'] as const;

export function useMe() {
  return useQuery<Me, Error>({
    queryKey: meQueryKey,
    queryFn: api.me,
    retry: (count, err) => !(err instanceof ApiError && err.status === 401) && count < 2,
    staleTime: 30_000,
  });
}

/** Reloads /me into the cache, e.g. after logging in or creating an organization. */
export async function refreshMe(queryClient: QueryClient): Promise<Me> {
  const me = await api.me();
  queryClient.setQueryData(meQueryKey, me);
  return me;
}

/** What the signed-in user may do in the organization on screen. */
export interface OrgAccess {
  orgId: string;
  org: Organization | undefined;
  orgName: string;
  role: Role;
  superadmin: boolean;
  /** Priority as in API.md: viewer 10 … owner 200, super-admin 1000. */
  priority: number;
  canCreateSecrets: boolean;
  /** Members, service tokens, settings and the audit trail need priority ≥ 100. */
  canAdminister: boolean;
  isOwner: boolean;
  me: Me;
}

export function accessFor(me: Me, orgId: string, org: Organization | undefined): OrgAccess | undefined {
  const membership = me.memberships.find((m) => m.org_id === orgId);
  const role = membership?.role ?? org?.role;
  if (!role) return undefined;
  const superadmin = Boolean(me.user.superadmin);
  const priority = superadmin ? SUPERADMIN_PRIORITY : ROLE_PRIORITY[role];
  return {
    orgId,
    org,
    orgName: org?.name ?? membership?.org_name ?? '',
    role,
    superadmin,
    priority,
    canCreateSecrets: priority >= ROLE_PRIORITY.editor,
    canAdminister: priority >= ADMIN_PRIORITY,
    isOwner: role === 'owner' || superadmin,
    me,
  };
}

const OrgAccessContext = createContext<OrgAccess | null>(null);

export function OrgAccessProvider({ value, children }: { value: OrgAccess; children: ReactNode }) {
  return <OrgAccessContext.Provider value={value}>{children}</OrgAccessContext.Provider>;
}

export function useOrgAccess(): OrgAccess {
  const ctx = useContext(OrgAccessContext);
  if (!ctx) throw new Error('useOrgAccess must be used inside an organization page');
  return ctx;
}

export function roleLabel(role: Role): string {
  return role.charAt(0).toUpperCase() + role.slice(1);
}
