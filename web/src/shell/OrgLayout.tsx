// The frame of every organization page: sidebar, header (organization, theme, account) and
// the page itself. It resolves what the user may do in this organization once, for all pages.
import { Navigate, Outlet, useParams } from 'react-router';
import { useQuery } from '@tanstack/react-query';
import { ShieldAlert } from 'lucide-react';
import { api, ApiError } from '../api';
import { accessFor, OrgAccessProvider, roleLabel, useMe } from '../session';
import { EmptyState, FullPageLoading } from '../ui/States';
import { Sidebar } from './Sidebar';
import { OrganizationSwitcher } from './OrganizationSwitcher';
import { ThemeToggle } from './ThemeToggle';
import { AccountMenu } from './AccountMenu';
import { SkipLink } from './SkipLink';
import { MAIN_CONTENT_ID } from '../ui/Dialog';
import { useSecretChanges } from '../secrets/useSecretChanges';

export function OrgLayout() {
  const { orgId = '' } = useParams();
  const me = useMe();
  const org = useQuery({
    queryKey: ['org', orgId, 'details'],
    queryFn: () => api.getOrg(orgId),
    enabled: Boolean(orgId),
    retry: (n, err) => !(err instanceof ApiError && err.status === 404) && n < 2,
  });
  useSecretChanges(orgId, Boolean(me.data && org.data));

  if (me.isPending) return <FullPageLoading />;
  if (!me.data) return <Navigate to="/login" replace />;

  const access = accessFor(me.data, orgId, org.data);
  const notFound = org.error instanceof ApiError && org.error.status === 404;

  return (
    <div className="app">
      <SkipLink />
      <Sidebar orgId={orgId} />
      <div className="main-column">
        <header className="app-header">
          <OrganizationSwitcher orgId={orgId} memberships={me.data.memberships} />
          <div className="app-header-spacer" />
          <ThemeToggle />
          <AccountMenu user={me.data.user} roleLabel={access ? roleLabel(access.role) : undefined} />
        </header>
        <main className="page" id={MAIN_CONTENT_ID} tabIndex={-1}>
          {access && !notFound ? (
            <OrgAccessProvider value={access}>
              <Outlet />
            </OrgAccessProvider>
          ) : org.isPending ? (
            <FullPageLoading />
          ) : (
            <EmptyState icon={<ShieldAlert size={28} />} title="Organization not found">
              It does not exist, or you are not a member of it.
            </EmptyState>
          )}
        </main>
      </div>
    </div>
  );
}
