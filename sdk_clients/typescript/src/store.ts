/**
 * Where a client keeps what it learned across app restarts: the sync cursor, the seq handed to the
 * app per conversation, and the heartbeat learned per network. A store maps a key to one
 * JSON-serialisable document; the client reads at login and writes in batches (`storeFlushInterval`),
 * never while handing a message over. Plug your own (a file in Node, IndexedDB...) by implementing
 * `StateStore`; either method may return a promise.
 */
export type StateDocument = Record<string, unknown>;

export interface StateStore {
  load(key: string): StateDocument | null | Promise<StateDocument | null>;
  save(key: string, document: StateDocument): void | Promise<void>;
}

/** For the life of the page or process: share one between Client instances to carry state over. */
export class MemoryStore implements StateStore {
  // Kept serialised, so a later change to the caller's object cannot leak in.
  private readonly documents = new Map<string, string>();

  load(key: string): StateDocument | null {
    const text = this.documents.get(key);
    return text === undefined ? null : (JSON.parse(text) as StateDocument);
  }

  save(key: string, document: StateDocument): void {
    this.documents.set(key, JSON.stringify(document));
  }
}

/** Browsers: every document in one localStorage item named `key`. */
export class LocalStorageStore implements StateStore {
  private readonly storage: Storage;

  constructor(
    readonly key = "imcloud.state",
    storage?: Storage,
  ) {
    const found = storage ?? (globalThis as { localStorage?: Storage }).localStorage;
    if (found === undefined) throw new TypeError("no localStorage here: pass a Storage, or use another StateStore");
    this.storage = found;
  }

  load(key: string): StateDocument | null {
    const value = this.read()[key];
    return typeof value === "object" && value !== null ? (value as StateDocument) : null;
  }

  save(key: string, document: StateDocument): void {
    const all = this.read();
    all[key] = document;
    // One setItem replaces the item whole: a reader sees the old value or the new one.
    this.storage.setItem(this.key, JSON.stringify(all));
  }

  private read(): Record<string, unknown> {
    try {
      const parsed: unknown = JSON.parse(this.storage.getItem(this.key) ?? "{}");
      return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
    } catch {
      return {}; // unreadable: start afresh rather than refuse to run
    }
  }
}
