import type { LogRing } from "./log.js";
import type { StateDocument, StateStore } from "./store.js";

export const HEARTBEAT_KEY = "heartbeat";

/** The document of one user of one app: the cursor and the per-conversation positions. */
export function sessionKey(appKey: string, accid: string): string {
  return `session:${appKey}:${accid}`;
}

/**
 * Reads, and batched writes, of the client's saved state. Only documents that changed since the last
 * write are written, one write at a time, so an older snapshot never overwrites a newer one.
 */
export class StateKeeper {
  private readonly saved = new Map<string, string>();
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    private readonly log: LogRing,
  ) {}

  async load(key: string): Promise<StateDocument | null> {
    try {
      const document = await this.store.load(key);
      if (document !== null) this.saved.set(key, JSON.stringify(document));
      return document;
    } catch (error) {
      // A broken store must not stop the client from running.
      this.log.add("warning", "store_load_failed", { key, error });
      return null;
    }
  }

  save(documents: Record<string, StateDocument>): Promise<void> {
    const changed = Object.entries(documents).filter(([key, doc]) => this.saved.get(key) !== JSON.stringify(doc));
    if (changed.length === 0) return this.writing;
    this.writing = this.writing.then(async () => {
      for (const [key, document] of changed) {
        try {
          await this.store.save(key, document);
          this.saved.set(key, JSON.stringify(document));
        } catch (error) {
          this.log.add("warning", "store_save_failed", { key, error });
        }
      }
    });
    return this.writing;
  }
}
