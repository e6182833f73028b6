// One RevealStore for the whole app, so that revealed values are forgotten on logout or on
// switching organization, and so that every view shares the same 30-second timers.
import { createContext, useContext, useSyncExternalStore, type ReactNode } from 'react';
import { RevealStore, revealKey, type Revealed } from './revealStore';

const RevealStoreContext = createContext<RevealStore | null>(null);

export function RevealStoreProvider({ store, children }: { store: RevealStore; children: ReactNode }) {
  return <RevealStoreContext.Provider value={store}>{children}</RevealStoreContext.Provider>;
}

export function useRevealStore(): RevealStore {
  const store = useContext(RevealStoreContext);
  if (!store) throw new Error('useRevealStore must be used inside <RevealStoreProvider>');
  return store;
}

/** The revealed value of one secret in one environment, or undefined while masked. */
export function useRevealed(secretId: string, env: string): Revealed | undefined {
  const store = useRevealStore();
  const all = useSyncExternalStore(store.subscribe, store.getSnapshot);
  return all.get(revealKey(secretId, env));
}
