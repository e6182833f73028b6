// Revealed plaintext lives here, outside the grid's cells, so that it survives AG Grid
// re-rendering rows, and so that one timer per value re-masks it after hide_after_seconds
// (30 s by default) whatever the user does meanwhile.

export const DEFAULT_HIDE_AFTER_SECONDS = 30;

export interface Revealed {
  value: string;
  version: number;
  /** Epoch milliseconds at which the value is hidden again. */
  hideAt: number;
}

export function revealKey(secretId: string, env: string): string {
  return `${secretId}:${env}`;
}

type Listener = () => void;

export class RevealStore {
  private readonly values = new Map<string, Revealed>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly listeners = new Set<Listener>();
  private snapshot: ReadonlyMap<string, Revealed> = new Map();

  constructor(private readonly now: () => number = () => Date.now()) {}

  reveal(key: string, value: string, version: number, hideAfterSeconds = DEFAULT_HIDE_AFTER_SECONDS): void {
    this.clearTimer(key);
    const seconds = hideAfterSeconds > 0 ? hideAfterSeconds : DEFAULT_HIDE_AFTER_SECONDS;
    this.values.set(key, { value, version, hideAt: this.now() + seconds * 1000 });
    this.timers.set(key, setTimeout(() => this.hide(key), seconds * 1000));
    this.emit();
  }

  hide(key: string): void {
    this.clearTimer(key);
    if (this.values.delete(key)) this.emit();
  }

  /** Hides every value of one secret, e.g. when another user changed it. */
  hideSecret(secretId: string): void {
    for (const key of [...this.values.keys()]) {
      if (key.startsWith(`${secretId}:`)) this.hide(key);
    }
  }

  hideAll(): void {
    for (const key of [...this.values.keys()]) this.hide(key);
  }

  get(key: string): Revealed | undefined {
    return this.values.get(key);
  }

  getSnapshot = (): ReadonlyMap<string, Revealed> => this.snapshot;

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  private clearTimer(key: string): void {
    const t = this.timers.get(key);
    if (t !== undefined) clearTimeout(t);
    this.timers.delete(key);
  }

  private emit(): void {
    this.snapshot = new Map(this.values);
    this.listeners.forEach((l) => l());
  }
}
