/**
 * What the live tests share: the stack's addresses and credentials (from environment variables set by
 * tests/sdk/typescript/test_node.py), signed REST calls as the app server, and event recorders.
 */
import { createHash, randomUUID } from "node:crypto";
import { Client, type ClientOptions, type ConnectionState, ImError, type pb } from "../../src/index.js";

function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/sdk/typescript/test_node.py`);
  return value;
}

export const stack = {
  ws: JSON.parse(env("IMCLOUD_WS")) as string[],
  http: JSON.parse(env("IMCLOUD_HTTP")) as string[],
  appKey: env("IMCLOUD_APP_KEY"),
  appSecret: env("IMCLOUD_APP_SECRET"),
  tokens: JSON.parse(env("IMCLOUD_TOKENS")) as Record<string, string>,
  gatewayPids: JSON.parse(env("IMCLOUD_GATEWAY_PIDS")) as number[],
  /** Through tests/weaknet's fault proxy (weaknet.test.ts only). */
  flapWs: process.env.IMCLOUD_FLAP_WS ?? "",
  natWs: process.env.IMCLOUD_NAT_WS ?? "",
};

/** Tight enough that a failure costs seconds, not minutes; the defaults are for phones. */
export const FAST: Partial<ClientOptions> = { raceInterval: 1, connectTimeout: 8, requestTimeout: 30 };

export async function rest(method: string, path: string, body?: unknown): Promise<any> {
  const nonce = randomUUID().replace(/-/g, "");
  const curTime = String(Math.floor(Date.now() / 1000));
  const checksum = createHash("sha1").update(stack.appSecret + nonce + curTime).digest("hex");
  const response = await fetch(stack.http[0] + path, {
    method,
    headers: { AppKey: stack.appKey, Nonce: nonce, CurTime: curTime, CheckSum: checksum, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return JSON.parse(text);
}

export class Recorder {
  messages: pb.Message[] = [];
  states: ConnectionState[] = [];
  errors: ImError[] = [];
  receipts: pb.ReceiptNotice[] = [];
  recalls: pb.Message[] = [];
  teams: pb.TeamNotice[] = [];

  constructor(client: Client) {
    client.on("message", (m) => this.messages.push(m));
    client.on("state", (s) => this.states.push(s));
    client.on("error", (e) => this.errors.push(e));
    client.on("receipt", (r) => this.receipts.push(r));
    client.on("recall", (r) => this.recalls.push(r));
    client.on("team", (t) => this.teams.push(t));
  }

  from(accid: string): pb.Message[] {
    return this.messages.filter((m) => m.fromAccid === accid);
  }
}

/** Wait until the predicate holds (generous: the machine may be busy); the assertions come after. */
export async function waitFor(predicate: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function client(endpoints: string[], device: string, extra: Partial<ClientOptions> = {}): Client {
  return new Client({ appKey: stack.appKey, endpoints, deviceId: device, ...FAST, ...extra });
}

export async function loggedIn(
  accid: string,
  endpoints: string[],
  extra: Partial<ClientOptions> = {},
  device = `node-${accid}`,
): Promise<[Client, Recorder]> {
  const c = client(endpoints, device, extra);
  const recorder = new Recorder(c);
  await c.login(accid, stack.tokens[accid]!);
  return [c, recorder];
}
