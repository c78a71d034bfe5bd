import type { Clock } from "./clock.js";
import type { LogRing } from "./log.js";

export interface Endpoints {
  /** WebSocket URLs, the LBS answer first, then the built-in ones. */
  ws: string[];
  /** Short-link bases. */
  http: string[];
}

interface LbsAnswer {
  gateways: string[];
  http: string[];
  expiresAt: number;
}

/**
 * Where to connect: GET {lbsUrl}?appkey=... (answer cached for its ttl); when that fails, the last
 * answer even if stale; the built-in endpoints always come last as a fallback.
 */
export class EndpointSource {
  private cached: LbsAnswer | null = null;
  // After a failed LBS query, rounds skip the LBS until then (a dead LBS would cost every round lbsTimeout).
  private lbsRetryAt = 0;

  constructor(
    private readonly settings: {
      appKey: string;
      lbsUrl: string;
      lbsTimeout: number;
      lbsRetryAfter: number;
      endpoints: string[];
      httpEndpoints: string[];
    },
    private readonly clock: Clock,
    private readonly log: LogRing,
  ) {}

  async resolve(): Promise<Endpoints> {
    let answer = this.cached;
    const stale = answer === null || answer.expiresAt <= this.clock.now();
    if (this.settings.lbsUrl && stale && this.clock.now() >= this.lbsRetryAt) {
      answer = (await this.fetchLbs()) ?? this.cached;
    }
    return {
      ws: unique([...(answer?.gateways ?? []), ...this.settings.endpoints]),
      http: unique([...(answer?.http ?? []), ...this.settings.httpEndpoints].map((u) => u.replace(/\/+$/, ""))),
    };
  }

  /** Forget the cached answer (every gateway in it failed): the next resolve asks the LBS again. */
  invalidate(): void {
    if (this.cached !== null) this.cached = { ...this.cached, expiresAt: 0 };
  }

  private async fetchLbs(): Promise<LbsAnswer | null> {
    const url = new URL(this.settings.lbsUrl, (globalThis as { location?: { href: string } }).location?.href);
    url.searchParams.set("appkey", this.settings.appKey);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(this.settings.lbsTimeout * 1000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const body = (await response.json()) as { gateways?: unknown; http?: unknown; ttl?: unknown };
      const answer: LbsAnswer = {
        gateways: strings(body.gateways),
        http: strings(body.http),
        expiresAt: this.clock.now() + (typeof body.ttl === "number" ? body.ttl : 300) * 1000,
      };
      this.cached = answer;
      this.log.add("info", "lbs_answer", { gateways: answer.gateways, http: answer.http });
      return answer;
    } catch (error) {
      this.lbsRetryAt = this.clock.now() + this.settings.lbsRetryAfter * 1000;
      this.log.add("warning", "lbs_failed", { url: url.toString(), error: String(error) });
      return null;
    }
  }
}

function strings(value: unknown): string[] {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];
}

function unique(values: string[]): string[] {
  return [...new Set(values)];
}
