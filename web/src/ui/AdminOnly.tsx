// Members, service tokens, settings and the audit trail need admin rights (priority ≥ 100):
// other roles see why instead of an error.
import type { ReactNode } from 'react';
import { Lock } from 'lucide-react';
import { useOrgAccess, roleLabel } from '../session';
import { EmptyState, PageHeader } from './States';

export function AdminOnly({ title, what, children }: { title: string; what: string; children: ReactNode }) {
  const access = useOrgAccess();
  if (access.canAdminister) return <>{children}</>;
  return (
    <div>
      <PageHeader title={title} />
      <EmptyState icon={<Lock size={28} />} title="Admins only">
        {`Only owners and admins of ${access.orgName} can see ${what}. Your role is ${roleLabel(access.role)}.`}
      </EmptyState>
    </div>
  );
}
