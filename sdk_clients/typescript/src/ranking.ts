import type { Clock } from "./clock.js";

export interface RankingSettings {
  rankHistory: number;
  rankExpiry: number;
  banFailures: number;
  banBase: number;
  banStep: number;
  banMax: number;
}

interface Result {
  ok: boolean;
  at: number;
}

export interface EndpointScore {
  url: string;
  failures: number;
  lastFailure: number;
  lastSuccess: number;
  banned: boolean;
}

/**
 * Remembers the last few connect results per endpoint per network and orders candidates: endpoints
 * that failed often and recently are banned for a while; the rest go by fewest recent failures, then
 * oldest last failure, then newest success. When every endpoint is banned they are tried anyway.
 */
export class EndpointRanking {
  private readonly results = new Map<string, Result[]>();

  constructor(
    private readonly settings: RankingSettings,
    private readonly clock: Clock,
  ) {}

  record(network: string, url: string, ok: boolean): void {
    const key = `${network}\n${url}`;
    const list = this.recent(key);
    list.push({ ok, at: this.clock.now() });
    while (list.length > this.settings.rankHistory) list.shift();
    this.results.set(key, list);
  }

  score(network: string, url: string): EndpointScore {
    const list = this.recent(`${network}\n${url}`);
    let failures = 0;
    let lastFailure = 0;
    let lastSuccess = 0;
    for (const result of list) {
      if (result.ok) {
        lastSuccess = Math.max(lastSuccess, result.at);
      } else {
        failures += 1;
        lastFailure = Math.max(lastFailure, result.at);
      }
    }
    let banned = false;
    const s = this.settings;
    if (failures >= s.banFailures) {
      const banSeconds = Math.min(s.banMax, s.banBase + s.banStep * (failures - s.banFailures));
      banned = this.clock.now() - lastFailure < banSeconds * 1000;
    }
    return { url, failures, lastFailure, lastSuccess, banned };
  }

  /** The candidates, best first (duplicates removed; equals keep their given order). */
  order(network: string, urls: readonly string[]): string[] {
    const unique = [...new Set(urls)];
    const scores = unique.map((url, index) => ({ index, ...this.score(network, url) }));
    scores.sort(
      (a, b) =>
        Number(a.banned) - Number(b.banned) ||
        a.failures - b.failures ||
        a.lastFailure - b.lastFailure ||
        b.lastSuccess - a.lastSuccess ||
        a.index - b.index,
    );
    return scores.map((s) => s.url);
  }

  private recent(key: string): Result[] {
    const horizon = this.clock.now() - this.settings.rankExpiry * 1000;
    return (this.results.get(key) ?? []).filter((r) => r.at >= horizon);
  }
}
