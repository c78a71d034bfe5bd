import type { Clock } from "./clock.js";

export interface BackoffSettings {
  reconnectFastWindow: number;
  reconnectFastInterval: number;
  reconnectLadder: number[];
  reconnectMax: number;
  reconnectMaxBackground: number;
  reconnectJitter: number;
}

/**
 * The reconnect ladder. During the first `reconnectFastWindow` seconds of an outage the client retries
 * every `reconnectFastInterval` (0.6 s +-20%: back within a second of a short outage ending, handshake and login included); then the
 * ladder 2, 4, 8, 16, 30 s, then doubling up to the cap (30 s; 300 s in the background) and staying
 * there, with +-`reconnectJitter` on every delay and no retry cap.
 */
export class ReconnectBackoff {
  private outageStart: number | null = null;
  private step = 0;

  constructor(
    private readonly settings: BackoffSettings,
    private readonly clock: Clock,
  ) {}

  /** Seconds to wait before the next attempt of the current outage (which starts at the first call). */
  nextDelay(background = false): number {
    const now = this.clock.now();
    if (this.outageStart === null) this.outageStart = now;
    const s = this.settings;
    const cap = background ? s.reconnectMaxBackground : s.reconnectMax;
    if (now - this.outageStart < s.reconnectFastWindow * 1000) return this.jitter(Math.min(cap, s.reconnectFastInterval));
    const ladder = s.reconnectLadder;
    const base =
      this.step < ladder.length
        ? ladder[this.step]!
        : ladder.length > 0
          ? ladder[ladder.length - 1]! * 2 ** (this.step - ladder.length + 1)
          : cap;
    this.step += 1;
    return this.jitter(Math.min(base, cap));
  }

  private jitter(base: number): number {
    const spread = this.settings.reconnectJitter;
    return Math.max(0, base * (1 + spread * (2 * this.clock.random() - 1)));
  }

  /** The link is down: the outage (and its fast-retry window) starts now unless it already has. */
  begin(): void {
    if (this.outageStart === null) this.outageStart = this.clock.now();
  }

  /** A login succeeded: the next outage starts the ladder again. */
  reset(): void {
    this.outageStart = null;
    this.step = 0;
  }

  /** Seconds since the outage began (0 when connected). */
  outageSeconds(): number {
    return this.outageStart === null ? 0 : (this.clock.now() - this.outageStart) / 1000;
  }
}
