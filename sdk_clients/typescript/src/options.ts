import type { Clock } from "./clock.js";
import type { StateStore } from "./store.js";

export type Encoding = "proto" | "json";

/**
 * Everything a Client can be told. Durations are in seconds, as in the Python SDK and docs/sdk.md.
 * Only `appKey` is required; give `lbsUrl` and/or `endpoints` so the client knows where to connect.
 */
export interface ClientOptions {
  appKey: string;
  /** GET {lbsUrl}?appkey=... answers the gateway list (cached for its ttl). */
  lbsUrl?: string;
  /** Built-in fallback WebSocket endpoints, tried after the LBS answer (or without one). */
  endpoints?: string[];
  /** Built-in fallback short-link bases (POST {base}/api/v1/client/frames). */
  httpEndpoints?: string[];
  /** Stable per installation (<= 64 characters). Browsers: kept in localStorage; Node: pass your own. */
  deviceId?: string;
  /** A Platform enum number; default WEB in browsers, by OS in Node. */
  platform?: number;
  encoding?: Encoding;
  clientVersion?: string;

  lbsTimeout?: number;
  lbsRetryAfter?: number;
  rankHistory?: number;
  banFailures?: number;
  banBase?: number;
  banStep?: number;
  banMax?: number;
  rankExpiry?: number;
  raceInterval?: number;
  maxInFlight?: number;
  connectTimeout?: number;
  reconnectFastWindow?: number;
  reconnectFastInterval?: number;
  reconnectLadder?: number[];
  reconnectMax?: number;
  reconnectMaxBackground?: number;
  reconnectJitter?: number;
  heartbeatMin?: number;
  heartbeatMax?: number;
  heartbeatStep?: number;
  heartbeatProbeAfter?: number;
  heartbeatSuccessesPerStep?: number;
  heartbeatFailuresToSettle?: number;
  heartbeatReprobeAfter?: number;
  heartbeatNetworks?: number;
  pongTimeout?: number;
  firstResponseTimeout?: number;
  requestTimeout?: number;
  /** A request refused by the server's rate limit goes again after this, doubling per refusal... */
  rateLimitDelay?: number;
  /** ...up to this. */
  rateLimitMax?: number;
  httpFallbackAfter?: number;
  httpPollInterval?: number;
  httpTimeout?: number;
  logCapacity?: number;
  /** Keeps the cursor, the per-conversation positions and the learned heartbeat across restarts (default: a MemoryStore of this client's own). */
  store?: StateStore;
  /** Seconds between batched writes to the store (and one at close()). */
  storeFlushInterval?: number;
  /** Listen to the browser's `online` and `visibilitychange` events (default true where they exist). */
  browserHooks?: boolean;
  /** For tests: a fake clock. */
  clock?: Clock;
}

/** The connection-manager numbers (docs/sdk.md lists the same defaults for both SDKs). */
export const DEFAULTS = {
  encoding: "proto" as Encoding,
  // Endpoints and ranking
  lbsTimeout: 2,
  lbsRetryAfter: 30,
  rankHistory: 8,
  banFailures: 3,
  banBase: 360,
  banStep: 360,
  banMax: 1800,
  rankExpiry: 86_400,
  // Racing connect
  raceInterval: 2.5,
  maxInFlight: 3,
  connectTimeout: 10,
  // Reconnect ladder
  reconnectFastWindow: 10,
  reconnectFastInterval: 0.6,
  reconnectLadder: [2, 4, 8, 16, 30] as number[],
  reconnectMax: 30,
  reconnectMaxBackground: 300,
  reconnectJitter: 0.2,
  // Smart heartbeat
  heartbeatMin: 45,
  heartbeatMax: 570,
  heartbeatStep: 60,
  heartbeatProbeAfter: 3,
  heartbeatSuccessesPerStep: 5,
  heartbeatFailuresToSettle: 2,
  heartbeatReprobeAfter: 7 * 86_400,
  heartbeatNetworks: 20,
  pongTimeout: 8,
  // Requests
  firstResponseTimeout: 10,
  requestTimeout: 40,
  rateLimitDelay: 1,
  rateLimitMax: 8,
  // Short link
  httpFallbackAfter: 15,
  httpPollInterval: 3,
  httpTimeout: 10,
  // Client log
  logCapacity: 1000,
  // Saved state
  storeFlushInterval: 1,
};

export type Settings = typeof DEFAULTS & {
  appKey: string;
  lbsUrl: string;
  endpoints: string[];
  httpEndpoints: string[];
  deviceId: string;
  platform: number;
  clientVersion: string;
  browserHooks: boolean;
};

export function resolveOptions(options: ClientOptions, fallback: { deviceId: () => string; platform: number; version: string }): Settings {
  if (!options.appKey) throw new TypeError("appKey is required");
  const merged = { ...DEFAULTS } as Settings;
  for (const [key, value] of Object.entries(options)) {
    if (value !== undefined && key !== "clock" && key !== "store") (merged as Record<string, unknown>)[key] = value;
  }
  merged.lbsUrl = options.lbsUrl ?? "";
  merged.endpoints = [...(options.endpoints ?? [])];
  merged.reconnectLadder = [...(options.reconnectLadder ?? DEFAULTS.reconnectLadder)];
  merged.httpEndpoints = [...(options.httpEndpoints ?? [])];
  merged.deviceId = options.deviceId ?? fallback.deviceId();
  merged.platform = options.platform ?? fallback.platform;
  merged.clientVersion = options.clientVersion ?? fallback.version;
  merged.browserHooks = options.browserHooks ?? true;
  if (!merged.lbsUrl && merged.endpoints.length === 0) {
    throw new TypeError("give lbsUrl, endpoints, or both, so the client knows where to connect");
  }
  if (merged.encoding !== "proto" && merged.encoding !== "json") throw new TypeError("encoding is 'proto' or 'json'");
  if (!(merged.heartbeatMin > 0 && merged.heartbeatMin <= merged.heartbeatMax)) {
    throw new TypeError("0 < heartbeatMin <= heartbeatMax");
  }
  return merged;
}
