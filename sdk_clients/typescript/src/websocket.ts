import { ImError } from "./errors.js";

/** The part of the WebSocket API the SDK uses: the browser's global and the `ws` package both have it. */
export interface WebSocketLike {
  binaryType: string;
  readonly protocol: string;
  readonly readyState: number;
  send(data: Uint8Array | string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

let loading: Promise<WebSocketConstructor> | undefined;

/** The global WebSocket where there is one (browsers, Node >= 22), else the `ws` package (Node 20). */
export function webSocketConstructor(): Promise<WebSocketConstructor> {
  const global = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof global === "function") return Promise.resolve(global as WebSocketConstructor);
  loading ??= (async () => {
    // A variable specifier keeps bundlers from pulling `ws` into browser builds.
    const name = "ws";
    try {
      const mod = (await import(name)) as { WebSocket?: unknown; default?: unknown };
      return (mod.WebSocket ?? mod.default) as WebSocketConstructor;
    } catch (error) {
      loading = undefined;
      throw new ImError("no_websocket", `no global WebSocket and the ws package did not load: ${String(error)}`);
    }
  })();
  return loading;
}
