import type { Clock } from "./clock.js";

export interface HeartbeatSettings {
  heartbeatMin: number;
  heartbeatMax: number;
  heartbeatStep: number;
  heartbeatProbeAfter: number;
  heartbeatSuccessesPerStep: number;
  heartbeatFailuresToSettle: number;
  heartbeatReprobeAfter: number;
  heartbeatNetworks: number;
}

export type HeartbeatPhase = "warming" | "probing" | "settled";

interface NetworkState {
  interval: number;
  lastGood: number;
  phase: HeartbeatPhase;
  successes: number;
  failures: number;
  settledAt: number;
}

export interface HeartbeatSnapshot {
  network: string;
  interval: number;
  phase: HeartbeatPhase;
  lastGood: number;
}

/**
 * Smart heartbeat: learn, per network, the longest ping interval the path (NATs, proxies) allows.
 * Start at the minimum; after a few successes probe upwards one step per run of successes; two
 * failures while probing settle at the last interval that worked; two failures when settled go back
 * to the minimum and probe again; a settled value is probed again after a week.
 */
export class SmartHeartbeat {
  private readonly networks = new Map<string, NetworkState>();
  private network = "default";

  constructor(
    private readonly settings: HeartbeatSettings,
    private readonly clock: Clock,
  ) {}

  setNetwork(key: string): void {
    this.network = key;
    this.state();
  }

  /** Seconds until the next ping on the current network. */
  interval(): number {
    const state = this.state();
    if (state.phase === "settled" && this.clock.now() - state.settledAt > this.settings.heartbeatReprobeAfter * 1000) {
      state.phase = "probing";
      state.successes = 0;
      state.failures = 0;
    }
    return state.interval;
  }

  success(): void {
    const state = this.state();
    const s = this.settings;
    state.failures = 0;
    state.successes += 1;
    state.lastGood = Math.max(state.lastGood, state.interval);
    if (state.phase === "warming") {
      if (state.successes >= s.heartbeatProbeAfter) {
        state.phase = "probing";
        state.successes = 0;
      }
      return;
    }
    if (state.phase === "probing" && state.successes >= s.heartbeatSuccessesPerStep) {
      state.successes = 0;
      if (state.interval >= s.heartbeatMax) {
        this.settle(state, s.heartbeatMax);
      } else {
        state.interval = Math.min(s.heartbeatMax, state.interval + s.heartbeatStep);
      }
    }
  }

  failure(): void {
    const state = this.state();
    const s = this.settings;
    state.successes = 0;
    state.failures += 1;
    if (state.failures < s.heartbeatFailuresToSettle) return;
    state.failures = 0;
    if (state.phase === "probing") {
      // The probe went too far: keep the longest interval that was answered.
      this.settle(state, state.lastGood);
    } else {
      state.phase = "warming";
      state.interval = s.heartbeatMin;
      state.lastGood = s.heartbeatMin;
    }
  }

  snapshot(): HeartbeatSnapshot {
    const state = this.state();
    return { network: this.network, interval: state.interval, phase: state.phase, lastGood: state.lastGood };
  }

  /** What was learned, per network, least recently used first (the StateStore document). */
  export(): { networks: Array<Record<string, unknown>> } {
    return {
      networks: [...this.networks.entries()].map(([network, state]) => ({
        network,
        interval: state.interval,
        phase: state.phase,
        last_good: state.lastGood,
        settled_at: state.settledAt / 1000,
      })),
    };
  }

  /** Take back what export() gave (a previous run's learning); bad entries are skipped. */
  restore(document: Record<string, unknown>): void {
    const s = this.settings;
    const entries = Array.isArray(document.networks) ? (document.networks as Array<Record<string, unknown>>) : [];
    for (const entry of entries) {
      const { network, interval, phase, last_good: lastGood, settled_at: settledAt } = entry;
      if (typeof network !== "string" || typeof interval !== "number" || typeof lastGood !== "number") continue;
      if (phase !== "warming" && phase !== "probing" && phase !== "settled") continue;
      const bounded = Math.min(Math.max(interval, s.heartbeatMin), s.heartbeatMax);
      this.networks.delete(network);
      this.networks.set(network, {
        interval: bounded,
        lastGood: Math.min(Math.max(lastGood, s.heartbeatMin), bounded),
        phase,
        successes: 0,
        failures: 0,
        settledAt: typeof settledAt === "number" ? settledAt * 1000 : 0,
      });
    }
    this.state();
  }

  private settle(state: NetworkState, interval: number): void {
    state.phase = "settled";
    state.interval = interval;
    state.settledAt = this.clock.now();
  }

  private state(): NetworkState {
    let state = this.networks.get(this.network);
    if (state === undefined) {
      const min = this.settings.heartbeatMin;
      state = { interval: min, lastGood: min, phase: "warming", successes: 0, failures: 0, settledAt: 0 };
    } else {
      this.networks.delete(this.network);
    }
    // Re-inserted so that the Map's order is least recently used first.
    this.networks.set(this.network, state);
    while (this.networks.size > this.settings.heartbeatNetworks) {
      const oldest = this.networks.keys().next().value as string;
      this.networks.delete(oldest);
    }
    return state;
  }
}
