/** A minimal typed event emitter (no dependency on Node's events module, so it runs in browsers). */
export class Emitter<Events extends { [K in keyof Events]: (...args: never[]) => void }> {
  private readonly listeners = new Map<keyof Events, Set<Events[keyof Events]>>();

  on<K extends keyof Events>(event: K, listener: Events[K]): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<K extends keyof Events>(event: K, listener: Events[K]): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** Calls every listener; one that throws does not stop the others or the SDK. Returns the errors. */
  emit<K extends keyof Events>(event: K, ...args: Parameters<Events[K]>): unknown[] {
    const failures: unknown[] = [];
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        (listener as (...a: Parameters<Events[K]>) => void)(...args);
      } catch (error) {
        failures.push(error);
      }
    }
    return failures;
  }
}
