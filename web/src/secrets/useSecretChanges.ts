// Live updates: reads the org's change feed (SSE) and refreshes the secrets queries, so that
// a change made by someone else shows up in the grid without a reload.
import { useEffect } from 'react';
import { useQueryClient } from '@tanstack/react-query';
import { api, type ChangeNotice } from '../api';
import { EventStreamParser } from './eventStream';

type ChangeListener = (notice: ChangeNotice) => void;
const changeListeners = new Set<ChangeListener>();

/** Lets a view react to individual notices (the grid flashes the changed row). */
export function onSecretChange(listener: ChangeListener): () => void {
  changeListeners.add(listener);
  return () => changeListeners.delete(listener);
}

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15000;
/** Notices arrive in bursts (and a first connection replays the org's history): refetch once per burst. */
const COALESCE_MS = 250;
/** Older notices are history being replayed, not something that just happened on screen. */
const FRESH_NOTICE_MS = 10_000;

export function useSecretChanges(orgId: string, enabled: boolean): void {
  const queryClient = useQueryClient();

  useEffect(() => {
    if (!enabled || !orgId) return;
    const abort = new AbortController();
    let lastEventId: string | undefined;
    let delay = RETRY_MIN_MS;
    let pending: ReturnType<typeof setTimeout> | undefined;

    let flush: ReturnType<typeof setTimeout> | undefined;
    const changedSecrets = new Set<string>();
    const refreshSoon = (notice: ChangeNotice) => {
      if (notice.secret_id) changedSecrets.add(notice.secret_id);
      const at = Date.parse(notice.at);
      if (Number.isNaN(at) || Date.now() - at < FRESH_NOTICE_MS) changeListeners.forEach((l) => l(notice));
      if (flush) return;
      flush = setTimeout(() => {
        flush = undefined;
        void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secrets'] });
        for (const id of changedSecrets) void queryClient.invalidateQueries({ queryKey: ['org', orgId, 'secret', id] });
        changedSecrets.clear();
      }, COALESCE_MS);
    };

    const connect = async () => {
      try {
        const headers: Record<string, string> = { Accept: 'text/event-stream' };
        if (lastEventId) headers['Last-Event-ID'] = lastEventId;
        const res = await fetch(api.changesUrl(orgId), { credentials: 'same-origin', headers, signal: abort.signal });
        if (!res.ok || !res.body) throw new Error(`change feed answered ${res.status}`);
        delay = RETRY_MIN_MS;
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        const parser = new EventStreamParser();
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          for (const ev of parser.push(value)) {
            if (ev.id) lastEventId = ev.id;
            try {
              refreshSoon(JSON.parse(ev.data) as ChangeNotice);
            } catch {
              // A keep-alive or an unknown payload: nothing to refresh.
            }
          }
        }
      } catch {
        if (abort.signal.aborted) return;
      }
      if (abort.signal.aborted) return;
      pending = setTimeout(() => void connect(), delay);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    };

    void connect();
    return () => {
      abort.abort();
      if (pending) clearTimeout(pending);
      if (flush) clearTimeout(flush);
    };
  }, [orgId, enabled, queryClient]);
}
