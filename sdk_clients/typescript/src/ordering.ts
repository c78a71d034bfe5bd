/**
 * In-order, once-only delivery per conversation. For each conversation the highest seq handed to the
 * app is kept; a message at or below it is a duplicate; the next seq is handed over at once; a later
 * one is held until the gap before it is filled (the client then syncs the conversation).
 */
export interface Sequenced {
  seq: bigint;
}

export interface Accepted<M> {
  /** Hand these to the app, in this order. */
  deliver: M[];
  /** A gap lies after this seq: fetch the conversation from it. Undefined when there is none. */
  gapAfter?: bigint;
}

interface Stream<M> {
  highest: bigint;
  /** Held beyond a gap. `null` marks a seq the app already knows (its own sent message). */
  held: Map<bigint, M | null>;
}

export class ConversationOrder<M extends Sequenced> {
  private readonly streams = new Map<string, Stream<M>>();

  /** The highest seq handed over, or undefined for a conversation not seen yet. */
  highest(key: string): bigint | undefined {
    return this.streams.get(key)?.highest;
  }

  keys(): string[] {
    return [...this.streams.keys()];
  }

  /** A previous run handed over up to `highest` (from a StateStore). */
  restore(key: string, highest: bigint): void {
    const stream = this.streams.get(key);
    if (stream === undefined) this.streams.set(key, { highest, held: new Map() });
    else if (highest > stream.highest) stream.highest = highest;
  }

  /** The highest seq handed over, per conversation. */
  positions(): Map<string, bigint> {
    return new Map([...this.streams].map(([key, stream]) => [key, stream.highest]));
  }

  /** Some conversation holds messages beyond a gap (a sync is due or running). */
  holding(): boolean {
    return [...this.streams.values()].some((stream) => stream.held.size > 0);
  }

  /** A conversation first known from the conversation list starts at its last seq (older is history). */
  baseline(key: string, lastSeq: bigint): boolean {
    if (this.streams.has(key)) return false;
    this.streams.set(key, { highest: lastSeq, held: new Map() });
    return true;
  }

  accept(key: string, message: M): Accepted<M> {
    return this.take(key, message.seq, message);
  }

  /** The app's own message, acknowledged with this seq: counts for order, is not handed over again. */
  own(key: string, seq: bigint): Accepted<M> {
    return this.take(key, seq, null);
  }

  /** Sync found nothing to fill the gap (e.g. messages past retention): hand over what is held. */
  skipGap(key: string): M[] {
    const stream = this.streams.get(key);
    if (stream === undefined || stream.held.size === 0) return [];
    const first = [...stream.held.keys()].reduce((a, b) => (b < a ? b : a));
    stream.highest = first - 1n;
    return this.drain(stream);
  }

  private take(key: string, seq: bigint, message: M | null): Accepted<M> {
    let stream = this.streams.get(key);
    if (stream === undefined) {
      stream = { highest: seq - 1n, held: new Map() };
      this.streams.set(key, stream);
    }
    if (seq <= stream.highest || stream.held.has(seq)) return { deliver: [] };
    stream.held.set(seq, message);
    const deliver = this.drain(stream);
    return stream.held.size > 0 ? { deliver, gapAfter: stream.highest } : { deliver };
  }

  private drain(stream: Stream<M>): M[] {
    const out: M[] = [];
    for (;;) {
      const next = stream.highest + 1n;
      if (!stream.held.has(next)) break;
      const message = stream.held.get(next);
      stream.held.delete(next);
      stream.highest = next;
      if (message !== null && message !== undefined) out.push(message);
    }
    return out;
  }
}
