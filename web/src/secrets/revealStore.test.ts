import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RevealStore, revealKey } from './revealStore';

describe('RevealStore: automatic re-mask', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  const key = revealKey('s1', 'production');

  it('hides a revealed value after 30 seconds by default', () => {
    const store = new RevealStore();
    store.reveal(key, 'sk_live_123', 3);
    expect(store.get(key)?.value).toBe('sk_live_123');
    vi.advanceTimersByTime(29_999);
    expect(store.get(key)).toBeDefined();
    vi.advanceTimersByTime(1);
    expect(store.get(key)).toBeUndefined();
  });

  it('follows hide_after_seconds from the server', () => {
    const store = new RevealStore();
    store.reveal(key, 'v', 1, 5);
    vi.advanceTimersByTime(5_000);
    expect(store.get(key)).toBeUndefined();
  });

  it('falls back to 30 seconds for a zero or negative delay', () => {
    const store = new RevealStore();
    store.reveal(key, 'v', 1, 0);
    vi.advanceTimersByTime(29_000);
    expect(store.get(key)).toBeDefined();
    vi.advanceTimersByTime(1_000);
    expect(store.get(key)).toBeUndefined();
  });

  it('restarts the timer when revealed again', () => {
    const store = new RevealStore();
    store.reveal(key, 'v1', 1);
    vi.advanceTimersByTime(20_000);
    store.reveal(key, 'v2', 2);
    vi.advanceTimersByTime(20_000);
    expect(store.get(key)?.value).toBe('v2');
    vi.advanceTimersByTime(10_000);
    expect(store.get(key)).toBeUndefined();
  });

  it('records when the value will be hidden', () => {
    const now = 1_000_000;
    const store = new RevealStore(() => now);
    store.reveal(key, 'v', 1, 30);
    expect(store.get(key)?.hideAt).toBe(now + 30_000);
  });

  it('hides at once on request, and notifies subscribers', () => {
    const store = new RevealStore();
    const listener = vi.fn();
    store.subscribe(listener);
    store.reveal(key, 'v', 1);
    store.hide(key);
    expect(store.get(key)).toBeUndefined();
    expect(listener).toHaveBeenCalledTimes(2);
    vi.advanceTimersByTime(30_000);
    expect(listener).toHaveBeenCalledTimes(2);
  });

  it('hides every environment of one secret, and everything on logout', () => {
    const store = new RevealStore();
    store.reveal(revealKey('s1', 'development'), 'a', 1);
    store.reveal(revealKey('s1', 'production'), 'b', 1);
    store.reveal(revealKey('s2', 'production'), 'c', 1);
    store.hideSecret('s1');
    expect(store.getSnapshot().size).toBe(1);
    store.hideAll();
    expect(store.getSnapshot().size).toBe(0);
  });
});
