// One organization's list behind an admin page (members, service tokens, webhooks):
// fetched under ['org', orgId, what], with its items (none while loading or failed)
// and refresh, which a page calls after it changed the list.
import { useQuery, useQueryClient } from '@tanstack/react-query';

export function useOrgList<T>(orgId: string, what: string, fetch: () => Promise<{ items: T[] }>) {
  const queryClient = useQueryClient();
  const queryKey = ['org', orgId, what];
  const list = useQuery({ queryKey, queryFn: fetch });
  const refresh = () => queryClient.invalidateQueries({ queryKey });
  return { list, items: list.data?.items ?? [], refresh };
}
