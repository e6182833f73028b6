// Routes and providers. Every page but login and sign-up needs a session; a 401 from any
// request sends the user back to the login page, to return where they were afterwards.
import { lazy, Suspense, useEffect, useState } from 'react';
import { BrowserRouter, Navigate, Route, Routes, useLocation, useNavigate } from 'react-router';
import { QueryClient, QueryClientProvider, useQueryClient } from '@tanstack/react-query';
import { ApiError, onUnauthenticated } from './api';
import { meQueryKey, useMe } from './session';
import { ToastProvider } from './ui/Toasts';
import { FullPageLoading } from './ui/States';
import { LoginPage } from './auth/LoginPage';
import { SignupPage } from './auth/SignupPage';
import { CreateOrganizationPage } from './auth/CreateOrganizationPage';
import { OrgLayout } from './shell/OrgLayout';
import { AuditLogsPage } from './audit/AuditLogsPage';
import { MembersPage } from './members/MembersPage';
import { ServiceTokensPage } from './tokens/ServiceTokensPage';
import { SettingsPage } from './settings/SettingsPage';
import { WebhooksPage } from './webhooks/WebhooksPage';
import { RevealStore } from './secrets/revealStore';
import { RevealStoreProvider } from './secrets/RevealStoreContext';

const LAST_ORG_KEY = 'keyledger.lastOrg';

// The secrets page carries AG Grid, the bulk of the bundle: load it apart from the login page.
const SecretsPage = lazy(() => import('./secrets/SecretsPage').then((m) => ({ default: m.SecretsPage })));

function newQueryClient() {
  return new QueryClient({
    defaultOptions: {
      queries: {
        retry: (count, err) => !(err instanceof ApiError && err.status > 0 && err.status < 500) && count < 2,
        refetchOnWindowFocus: true,
        staleTime: 5_000,
      },
    },
  });
}

/** Sends the user to /login when the session is gone, and forgets revealed values. */
function SessionWatcher({ reveals }: { reveals: RevealStore }) {
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  useEffect(
    () =>
      onUnauthenticated(() => {
        // A 401 while nobody is signed in is the normal "show the login page" case; only a
        // session that ended under a signed-in user needs the cache wiped and a redirect.
        if (!queryClient.getQueryData(meQueryKey)) return;
        reveals.hideAll();
        queryClient.removeQueries({ predicate: (q) => q.queryKey[0] !== meQueryKey[0] });
        void queryClient.resetQueries({ queryKey: meQueryKey });
        if (!['/login', '/signup'].includes(location.pathname)) {
          navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
        }
      }),
    [navigate, location, queryClient, reveals],
  );
  // Revealed values belong to one organization: forget them when switching.
  const orgInPath = location.pathname.split('/')[2];
  useEffect(() => {
    reveals.hideAll();
    if (orgInPath && location.pathname.startsWith('/orgs/')) {
      try {
        localStorage.setItem(LAST_ORG_KEY, orgInPath);
      } catch {
        // Not remembered; the first organization is used next time.
      }
    }
    // Only an organization change matters here, not every location change.
  }, [orgInPath]);
  return null;
}

function Home() {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) return <FullPageLoading />;
  if (!me.data) return <Navigate to={`/login${location.pathname === '/' ? '' : `?next=${encodeURIComponent(location.pathname)}`}`} replace />;
  const memberships = me.data.memberships;
  if (memberships.length === 0) return <Navigate to="/new-organization" replace />;
  let last: string | null = null;
  try {
    last = localStorage.getItem(LAST_ORG_KEY);
  } catch {
    last = null;
  }
  const target = memberships.find((m) => m.org_id === last) ?? [...memberships].sort((a, b) => a.org_name.localeCompare(b.org_name))[0];
  return <Navigate to={`/orgs/${target?.org_id}/secrets`} replace />;
}

function RequireSession({ children }: { children: React.ReactNode }) {
  const me = useMe();
  const location = useLocation();
  if (me.isPending) return <FullPageLoading />;
  if (!me.data) return <Navigate to={`/login?next=${encodeURIComponent(location.pathname + location.search)}`} replace />;
  return <>{children}</>;
}

export function App() {
  const [queryClient] = useState(newQueryClient);
  const [reveals] = useState(() => new RevealStore());
  return (
    <QueryClientProvider client={queryClient}>
      <RevealStoreProvider store={reveals}>
        <ToastProvider>
          <BrowserRouter>
            <SessionWatcher reveals={reveals} />
            <Routes>
              <Route path="/login" element={<LoginPage />} />
              <Route path="/signup" element={<SignupPage />} />
              <Route path="/new-organization" element={<CreateOrganizationPage />} />
              <Route
                path="/orgs/:orgId"
                element={
                  <RequireSession>
                    <OrgLayout />
                  </RequireSession>
                }
              >
                <Route index element={<Navigate to="secrets" replace />} />
                <Route
                  path="secrets"
                  element={
                    <Suspense fallback={<FullPageLoading />}>
                      <SecretsPage />
                    </Suspense>
                  }
                />
                <Route path="audit" element={<AuditLogsPage />} />
                <Route path="members" element={<MembersPage />} />
                <Route path="service-tokens" element={<ServiceTokensPage />} />
                <Route path="settings" element={<SettingsPage />} />
                <Route path="settings/webhooks" element={<WebhooksPage />} />
                <Route path="*" element={<Navigate to="secrets" replace />} />
              </Route>
              <Route path="*" element={<Home />} />
            </Routes>
          </BrowserRouter>
        </ToastProvider>
      </RevealStoreProvider>
    </QueryClientProvider>
  );
}
