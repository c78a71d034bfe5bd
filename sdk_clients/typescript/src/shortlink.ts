import { CONTENT_TYPES, decodeFrame, encodeFrame } from "./codec.js";
import { ImError } from "./errors.js";
import type { Frame } from "./gen/imcloud_pb.js";
import type { Encoding } from "./options.js";

export const FRAMES_PATH = "/api/v1/client/frames";

/** Frames that only make sense on a WebSocket; the short link refuses them (400 unsupported_over_http). */
export const WEBSOCKET_ONLY: ReadonlySet<string> = new Set(["login", "ping", "logout", "typing", "appState"]);

export interface Credentials {
  appKey: string;
  accid: string;
  token: string;
  deviceId: string;
  platform: number;
}

/**
 * One request frame over plain HTTP (the short link), for when no WebSocket gets through.
 * Resolves with the answering frame (an `error` frame included); rejects with ImError:
 * `http_failed` (network, 5xx: try again later), `rate_limited` (429, not carried out;
 * `details.retryAfter` in seconds when the server said) or the login refusal code on 401.
 */
export async function postFrame(
  base: string,
  frame: Frame,
  credentials: Credentials,
  encoding: Encoding,
  timeoutSeconds: number,
): Promise<Frame> {
  const body = encodeFrame(frame, encoding);
  let response: Response;
  try {
    response = await fetch(base.replace(/\/+$/, "") + FRAMES_PATH, {
      method: "POST",
      headers: {
        "Content-Type": CONTENT_TYPES[encoding],
        Accept: CONTENT_TYPES[encoding],
        "X-IM-AppKey": credentials.appKey,
        "X-IM-Accid": credentials.accid,
        "X-IM-Token": credentials.token,
        "X-IM-Device-Id": credentials.deviceId,
        "X-IM-Platform": String(credentials.platform),
      },
      body: body as BodyInit,
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
    });
  } catch (error) {
    throw new ImError("http_failed", String(error), { base });
  }
  const data = encoding === "proto" ? new Uint8Array(await response.arrayBuffer()) : await response.text();
  let reply: Frame | null = null;
  try {
    reply = decodeFrame(data, encoding);
  } catch {
    reply = null;
  }
  if (response.status === 401) {
    const code = reply?.body.case === "error" ? reply.body.value.code : "bad_credentials";
    throw new ImError(code, "the short link refused the credentials", { base, status: 401 });
  }
  if (response.status === 429) {
    const retry = Number(response.headers.get("Retry-After") ?? "");
    const retryAfter = Number.isFinite(retry) && retry >= 0 && response.headers.has("Retry-After") ? retry : undefined;
    throw new ImError("rate_limited", "the short link refused the frame: too many", { base, status: 429, retryAfter });
  }
  if (response.status === 200 && reply !== null) return reply;
  if (reply?.body.case === "error" && response.status >= 400 && response.status < 500 && response.status !== 429) {
    return reply; // the server's answer to this request (malformed, unsupported...), not a link failure
  }
  throw new ImError("http_failed", `HTTP ${response.status}`, { base, status: response.status });
}
