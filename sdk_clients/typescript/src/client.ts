import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { ReconnectBackoff } from "./backoff.js";
import { type Clock, randomHex, realClock } from "./clock.js";
import { PROTOCOL_VERSION } from "./codec.js";
import { EndpointSource } from "./endpoints.js";
import { AUTH_FAILURE_CODES, ImError } from "./errors.js";
import { Emitter } from "./events.js";
import * as pb from "./gen/imcloud_pb.js";
import { type CallOptions, GeneratedRequests, type RequestBody, type RequestCase, type ResponseCase } from "./gen/requests.js";
import { type HeartbeatSnapshot, SmartHeartbeat } from "./heartbeat.js";
import { Link } from "./link.js";
import { type LogEntry, type LogLevel, LogRing } from "./log.js";
import { type ClientOptions, resolveOptions, type Settings } from "./options.js";
import { ConversationOrder } from "./ordering.js";
import { HEARTBEAT_KEY, sessionKey, StateKeeper } from "./persistence.js";
import { EndpointRanking } from "./ranking.js";
import { postFrame, WEBSOCKET_ONLY } from "./shortlink.js";
import { MemoryStore, type StateDocument } from "./store.js";
import { webSocketConstructor } from "./websocket.js";

export const SDK_VERSION = "0.1.0";

export type ConnectionState = "connecting" | "connected" | "disconnected" | "kicked" | "auth_failed";
export type Transport = "websocket" | "http";

export interface StateDetail {
  transport: Transport;
  url?: string;
  reason?: string;
  code?: string | number;
  kick?: pb.Kick;
}

export interface ClientEvents {
  state: (state: ConnectionState, detail: StateDetail) => void;
  message: (message: pb.Message) => void;
  receipt: (receipt: pb.ReceiptNotice) => void;
  recall: (notice: pb.Message) => void;
  typing: (typing: pb.Typing) => void;
  team: (notice: pb.TeamNotice) => void;
  error: (error: ImError) => void;
}

/** Counters for support and tests. */
export interface ClientStats {
  connectAttempts: number;
  logins: number;
  resent: number;
  httpRequests: number;
}

export interface SendOptions {
  team?: boolean;
  /** The idempotency key; generated (32 hex digits) when not given. Resends keep it. */
  clientMsgId?: string;
  ext?: string;
  noPush?: boolean;
  /** Seconds before the send fails with ImError `timeout` (default requestTimeout). */
  timeout?: number;
}

export type MediaKind = "image" | "audio" | "video" | "file";

const MEDIA_TYPES: Record<MediaKind, pb.MessageType> = {
  image: pb.MessageType.IMAGE,
  audio: pb.MessageType.AUDIO,
  video: pb.MessageType.VIDEO,
  file: pb.MessageType.FILE,
};

interface Pending {
  id: bigint;
  field: RequestCase;
  body: RequestBody;
  expect: ResponseCase | null;
  resolve: (frame: pb.Frame) => void;
  reject: (error: ImError) => void;
  totalTimer: unknown;
  firstTimer: unknown;
  /** The link it was last written to; null while queued. */
  link: Link | null;
  overHttp: boolean;
  /** Written at least once (to any link): a further write is a resend. */
  written: boolean;
  /** The proto's `(idempotent)`: may be sent again after its link died under it. */
  idempotent: boolean;
  /** Consecutive `rate_limited` answers. */
  refusals: number;
  /** Set while waiting to go again after a rate-limit refusal. */
  retryTimer: unknown;
}

type Waiter = { resolve: () => void; reject: (error: ImError) => void };

/** Where a conversation's ordering state lives. */
function conversationKey(type: pb.ConversationType, target: string): string {
  return `${type}:${target}`;
}

function defaultDeviceId(): string {
  const storage = (globalThis as { localStorage?: Storage }).localStorage;
  try {
    if (storage) {
      const known = storage.getItem("imcloud.device_id");
      if (known) return known;
      const made = `web-${randomHex()}`;
      storage.setItem("imcloud.device_id", made);
      return made;
    }
  } catch {
    // storage refused (private mode): fall through to a per-page id
  }
  return `js-${randomHex()}`;
}

function defaultPlatform(): number {
  const proc = (globalThis as { process?: { platform?: string; versions?: { node?: string } } }).process;
  if (proc?.versions?.node === undefined) return pb.Platform.WEB;
  if (proc.platform === "darwin") return pb.Platform.MAC;
  if (proc.platform === "win32") return pb.Platform.WINDOWS;
  return pb.Platform.LINUX;
}

/**
 * The imcloud client: one logical connection that stays up by itself (racing connect, endpoint ranking,
 * reconnect ladder, smart heartbeat, short-link fallback), sends that survive reconnects, and messages
 * handed to the app once each and in order per conversation.
 */
export class Client extends GeneratedRequests {
  readonly settings: Settings;
  private readonly clock: Clock;
  private readonly logRing: LogRing;
  private readonly events = new Emitter<ClientEvents>();
  private readonly ranking: EndpointRanking;
  private readonly heartbeat: SmartHeartbeat;
  private readonly backoff: ReconnectBackoff;
  private readonly order = new ConversationOrder<pb.Message>();
  private readonly endpoints: EndpointSource;

  private _state: ConnectionState = "disconnected";
  private _transport: Transport = "websocket";
  private accid = "";
  private token = "";
  private cursor = "";
  private link: Link | null = null;
  private readonly pending = new Map<bigint, Pending>();
  private nextRequestId = 1n;
  private stopped = true;
  private everLoggedIn = false;
  private loginWaiters: Waiter[] = [];
  private foreground = true;
  private network = "default";

  private roundActive = false;
  private roundAgain = false;
  private roundAborts: Array<() => void> = [];
  private reconnectTimer: unknown = null;
  private fallbackTimer: unknown = null;
  private pingTimer: unknown = null;
  private pongTimer: unknown = null;
  private pingId: bigint | null = null;
  private pollTimer: unknown = null;
  private httpBase: string | null = null;
  private httpCandidates: string[] = [];
  private readonly syncing = new Map<string, boolean>();
  private unhook: () => void = () => {};
  private maxFrameBytes = 0;
  /** Set once the first conversation list after the first login was handled. */
  private listedOnce = false;
  private readonly counters: ClientStats = { connectAttempts: 0, logins: 0, resent: 0, httpRequests: 0 };
  private readonly keeper: StateKeeper;
  /** The cursor saved for the next run: only one whose listing was fully fetched. */
  private savedCursor = "";
  private restoring: Promise<void> = Promise.resolve();
  private persistTimer: unknown = null;

  constructor(options: ClientOptions) {
    super();
    this.clock = options.clock ?? realClock;
    this.settings = resolveOptions(options, {
      deviceId: defaultDeviceId,
      platform: defaultPlatform(),
      version: `imcloud-js/${SDK_VERSION}`,
    });
    this.logRing = new LogRing(this.settings.logCapacity, this.clock);
    this.ranking = new EndpointRanking(this.settings, this.clock);
    this.heartbeat = new SmartHeartbeat(this.settings, this.clock);
    this.backoff = new ReconnectBackoff(this.settings, this.clock);
    this.endpoints = new EndpointSource(this.settings, this.clock, this.logRing);
    this.keeper = new StateKeeper(options.store ?? new MemoryStore(), this.logRing);
  }

  // --- public API ---------------------------------------------------------------------------------

  get state(): ConnectionState {
    return this._state;
  }

  get transport(): Transport {
    return this._transport;
  }

  get stats(): ClientStats {
    return { ...this.counters };
  }

  /** What the smart heartbeat has learnt on the current network: interval (s), phase, last good. */
  heartbeatSnapshot(): HeartbeatSnapshot {
    return this.heartbeat.snapshot();
  }

  /** The sync cursor of the last conversation list (kept across reconnects). */
  get syncCursor(): string {
    return this.cursor;
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): void {
    this.events.off(event, listener);
  }

  /** The last `logCapacity` structured log entries, oldest first, JSON-serialisable. */
  dumpLog(): LogEntry[] {
    return this.logRing.dump();
  }

  /**
   * Connect and log in. Resolves once logged in the first time; rejects with the server's code
   * (`bad_credentials`, `unknown_app`, `blocked`) and stops, or with `timeout` after requestTimeout
   * (the client keeps trying in the background until close()).
   */
  login(accid: string, token: string, options: { cursor?: string } = {}): Promise<void> {
    if (!this.stopped) return Promise.reject(new ImError("already_logged_in", "this client is logged in; close() it first"));
    this.accid = accid;
    this.token = token;
    this.cursor = options.cursor ?? this.cursor;
    this.stopped = false;
    this.everLoggedIn = false;
    this.hookBrowser();
    const promise = new Promise<void>((resolve, reject) => {
      const timer = this.clock.setTimeout(() => {
        this.loginWaiters = this.loginWaiters.filter((w) => w !== waiter);
        reject(new ImError("timeout", "not logged in within requestTimeout; still trying"));
      }, this.settings.requestTimeout * 1000);
      const waiter: Waiter = {
        resolve: () => {
          this.clock.clearTimeout(timer);
          resolve();
        },
        reject: (error) => {
          this.clock.clearTimeout(timer);
          reject(error);
        },
      };
      this.loginWaiters.push(waiter);
    });
    this.log("info", "login", { accid, deviceId: this.settings.deviceId });
    this.restoring = this.restore(options.cursor).catch((error: unknown) => this.log("warning", "restore_failed", { error }));
    this.schedulePersist();
    void this.connectRound();
    return promise;
  }

  async sendText(target: string, text: string, options: SendOptions = {}): Promise<pb.SendAck> {
    return this.sendMessage(target, { type: pb.MessageType.TEXT, text }, options);
  }

  /** A CUSTOM message: `data` is a JSON document (given as text, or as a value to serialise). */
  async sendCustom(target: string, data: unknown, options: SendOptions = {}): Promise<pb.SendAck> {
    const custom = typeof data === "string" ? data : JSON.stringify(data);
    return this.sendMessage(target, { type: pb.MessageType.CUSTOM, custom }, options);
  }

  async sendMedia(
    target: string,
    kind: MediaKind | pb.MessageType,
    attachment: MessageInitShape<typeof pb.AttachmentSchema>,
    options: SendOptions & { caption?: string } = {},
  ): Promise<pb.SendAck> {
    const type = typeof kind === "number" ? kind : MEDIA_TYPES[kind];
    return this.sendMessage(target, { type, attachment, text: options.caption ?? "" }, options);
  }

  async sendLocation(
    target: string,
    latitude: number,
    longitude: number,
    options: SendOptions & { title?: string } = {},
  ): Promise<pb.SendAck> {
    const location = { latitude, longitude, title: options.title ?? "" };
    return this.sendMessage(target, { type: pb.MessageType.LOCATION, location }, options);
  }

  /** Any message: the outbox keeps it (same clientMsgId) until the server acknowledges it. */
  async sendMessage(
    target: string,
    content: Omit<MessageInitShape<typeof pb.SendMessageSchema>, "$typeName">,
    options: SendOptions = {},
  ): Promise<pb.SendAck> {
    const clientMsgId = options.clientMsgId ?? randomHex();
    let ack: pb.SendAck;
    try {
      ack = await this.rpcSend(
        {
          ...content,
          conversationType: options.team ? pb.ConversationType.TEAM : pb.ConversationType.P2P,
          target,
          clientMsgId,
          ext: options.ext ?? content.ext ?? "",
          noPush: options.noPush ?? content.noPush ?? false,
        },
        { timeout: options.timeout },
      );
    } catch (error) {
      const cause = error as ImError;
      if (cause.code !== "closed") {
        this.emitError(new ImError("send_failed", cause.message, { cause: cause.code, clientMsgId }));
      }
      throw error;
    }
    this.ownSeq(ack.conversationType, ack.target, ack.seq);
    return ack;
  }

  /** The conversation list changed since the last call (and the missed messages, as `message` events). */
  async sync(): Promise<pb.ConversationSummary[]> {
    const out: pb.ConversationSummary[] = [];
    for (;;) {
      const result = await this.rpcSync({ cursor: this.cursor });
      out.push(...result.conversations);
      this.conversationList(result);
      if (!result.hasMore) return out;
    }
  }

  /** A page of older messages (ascending), before `beforeSeq` (0: the newest). Not emitted as events. */
  async history(
    target: string,
    options: { beforeSeq?: bigint | number; limit?: number; team?: boolean } = {},
  ): Promise<pb.Message[]> {
    const type = options.team ? pb.ConversationType.TEAM : pb.ConversationType.P2P;
    let before = BigInt(options.beforeSeq ?? 0);
    if (before === 0n) before = 2n ** 63n - 1n; // from the newest
    const result = await this.rpcSync({ conversationType: type, target, beforeSeq: before, limit: options.limit ?? 50 });
    return result.messages;
  }

  async markRead(target: string, seq: bigint | number, options: { team?: boolean } = {}): Promise<pb.MarkReadAck> {
    const type = options.team ? pb.ConversationType.TEAM : pb.ConversationType.P2P;
    return this.rpcMarkRead({ conversationType: type, target, seq: BigInt(seq) });
  }

  async recall(target: string, serverMsgId: string, options: { team?: boolean } = {}): Promise<pb.RecallAck> {
    const type = options.team ? pb.ConversationType.TEAM : pb.ConversationType.P2P;
    const ack = await this.rpcRecall({ conversationType: type, target, serverMsgId });
    this.ownSeq(type, target, ack.noticeSeq);
    return ack;
  }

  /** Tell a one-to-one peer "typing" (dropped when not connected: it is only a hint). */
  async typing(target: string): Promise<void> {
    await this.rpcTyping({ conversationType: pb.ConversationType.P2P, target });
  }

  /** The OS says the network changed (or pass a key naming the new network): reconnect now. */
  networkChanged(networkKey?: string): void {
    if (networkKey !== undefined && networkKey !== this.network) {
      this.network = networkKey;
      this.heartbeat.setNetwork(networkKey);
    }
    this.log("info", "network_changed", { network: this.network });
    if (this.stopped) return;
    this.backoff.reset();
    this.link?.close(1000, "network changed");
    this.reconnectNow();
  }

  /** The app came to the foreground (true) or went to the background (false). */
  setForeground(foreground: boolean): void {
    if (foreground === this.foreground) return;
    this.foreground = foreground;
    this.log("info", "foreground", { foreground });
    if (this.stopped) return;
    if (this.link !== null) {
      this.appState({ foreground }).catch((error: unknown) => this.log("warning", "app_state_failed", { error }));
    }
    if (foreground && this.link === null) this.reconnectNow();
  }

  /** Log out (the server forgets this device's push token) and close. */
  async logout(): Promise<void> {
    if (this.link !== null) {
      this.link.send(create(pb.FrameSchema, { requestId: this.newRequestId(), body: { case: "logout", value: create(pb.LogoutSchema) } }));
    }
    await this.close();
  }

  /** Stop everything; pending requests fail with `closed`. */
  async close(): Promise<void> {
    this.stop("disconnected", { transport: this._transport, reason: "closed" }, new ImError("closed", "the client was closed"));
    if (this.accid !== "") await this.keeper.save(this.savedState());
  }

  // --- requests -----------------------------------------------------------------------------------

  protected request(
    field: RequestCase,
    body: RequestBody,
    expect: ResponseCase | null,
    options: CallOptions,
    idempotent: boolean,
  ): Promise<pb.Frame> {
    if (this.stopped) {
      return Promise.reject(new ImError(this._state === "disconnected" ? "not_logged_in" : this._state, `the client is ${this._state}`));
    }
    if (this._transport === "http" && this.link === null && WEBSOCKET_ONLY.has(field) && expect !== null) {
      return Promise.reject(new ImError("unsupported_over_http", `${field} needs the WebSocket; the client is on the short link`));
    }
    const id = this.newRequestId();
    if (this.maxFrameBytes > 0) {
      const size = toBinary(pb.FrameSchema, create(pb.FrameSchema, { requestId: id, body: { case: field, value: body } as pb.Frame["body"] })).length;
      if (size > this.maxFrameBytes) {
        return Promise.reject(new ImError("frame_too_large", `${field} is ${size} bytes; the server takes at most ${this.maxFrameBytes}`));
      }
    }
    if (expect === null) {
      // Fire and forget (typing, logout): only meaningful on a live WebSocket.
      const frame = create(pb.FrameSchema, { requestId: id, body: { case: field, value: body } as pb.Frame["body"] });
      const sent = this.link?.send(frame) ?? false;
      this.log("debug", "sent_unanswered", { field, sent });
      return Promise.resolve(frame);
    }
    return new Promise<pb.Frame>((resolve, reject) => {
      const timeout = options.timeout ?? this.settings.requestTimeout;
      const entry: Pending = {
        id, field, body, expect, resolve, reject,
        totalTimer: null, firstTimer: null, link: null, overHttp: false, written: false,
        idempotent, refusals: 0, retryTimer: null,
      };
      entry.totalTimer = this.clock.setTimeout(() => {
        const error = new ImError("timeout", `${field} got no answer within ${timeout} s`, { field });
        this.log("warning", "request_timeout", { field });
        this.finish(entry);
        reject(error);
      }, timeout * 1000);
      this.pending.set(id, entry);
      this.dispatch(entry);
    });
  }

  private newRequestId(): bigint {
    const id = this.nextRequestId;
    this.nextRequestId += 1n;
    return id;
  }

  private finish(entry: Pending): void {
    this.pending.delete(entry.id);
    this.clock.clearTimeout(entry.totalTimer);
    this.clock.clearTimeout(entry.firstTimer);
    this.clock.clearTimeout(entry.retryTimer);
  }

  private frameOf(entry: Pending): pb.Frame {
    return create(pb.FrameSchema, { requestId: entry.id, body: { case: entry.field, value: entry.body } as pb.Frame["body"] });
  }

  /** Write a queued request where it can go now: the WebSocket, else the short link, else keep it. */
  private dispatch(entry: Pending): void {
    if (entry.link !== null || entry.overHttp || entry.retryTimer !== null) return;
    const link = this.link;
    if (link !== null) {
      if (!link.send(this.frameOf(entry))) return;
      entry.link = link;
      entry.written = true;
      entry.firstTimer = this.clock.setTimeout(() => {
        if (entry.link !== link || !this.pending.has(entry.id)) return;
        this.log("warning", "first_response_timeout", { field: entry.field, url: link.url });
        link.close(1000, "no response");
      }, this.settings.firstResponseTimeout * 1000);
      return;
    }
    if (this._transport === "http" && this.httpBase !== null) {
      if (WEBSOCKET_ONLY.has(entry.field)) {
        this.finish(entry);
        entry.reject(new ImError("unsupported_over_http", `${entry.field} needs the WebSocket; the client is on the short link`));
        return;
      }
      void this.dispatchHttp(entry, this.httpBase);
    }
  }

  private async dispatchHttp(entry: Pending, base: string): Promise<void> {
    entry.overHttp = true;
    entry.written = true;
    this.counters.httpRequests += 1;
    try {
      const reply = await postFrame(base, this.frameOf(entry), this.credentials(), this.settings.encoding, this.settings.httpTimeout);
      entry.overHttp = false;
      this.settle(entry, reply);
    } catch (error) {
      entry.overHttp = false;
      const imError = error as ImError;
      if (AUTH_FAILURE_CODES.has(imError.code)) {
        this.authFailed(imError);
        return;
      }
      if (imError.code === "rate_limited") {
        // Refused unprocessed (429): wait as told (Retry-After), within the request's total time.
        this.retryLater(entry, this.rateLimitPause(entry, imError.details.retryAfter as number | undefined));
        return;
      }
      this.log("warning", "http_request_failed", { field: entry.field, base, error: imError.message });
      if (!entry.idempotent && this.pending.has(entry.id)) {
        // The POST may have reached the server: the same as a link dying under the request.
        this.lose(entry);
      }
      // Otherwise it stays queued: the next login (WebSocket or short link) sends it again.
      if (this._transport === "http" && this.httpBase === base) this.leaveHttp(imError.message);
    }
  }

  /** The short link stopped answering: back to "disconnected" until a WebSocket or a base answers. */
  private leaveHttp(reason: string): void {
    this.stopPolling();
    this.httpBase = null;
    this._transport = "websocket";
    this.log("warning", "short_link_closed", { reason });
    this.setState("disconnected", { transport: "websocket", reason });
    void this.connectRound();
  }

  /** Answered `rate_limited`: the server did not carry it out. Seconds to wait before the next try. */
  private rateLimitPause(entry: Pending, retryAfter?: number): number {
    entry.refusals += 1;
    const s = this.settings;
    const pause = retryAfter ?? Math.min(s.rateLimitDelay * 2 ** (entry.refusals - 1), s.rateLimitMax);
    this.log("info", "rate_limited", { field: entry.field, refusals: entry.refusals, retryIn: pause });
    return pause;
  }

  /** Send it again after `seconds` on whatever carries requests then (the same link, if it lives). */
  private retryLater(entry: Pending, seconds: number): void {
    this.clock.clearTimeout(entry.firstTimer);
    entry.link = null; // not carried out: no reply is owed, and a link dying now loses nothing
    entry.retryTimer = this.clock.setTimeout(() => {
      entry.retryTimer = null;
      if (!this.pending.has(entry.id)) return;
      this.counters.resent += 1;
      this.dispatch(entry);
    }, seconds * 1000);
  }

  /** Its outcome is unknown (written, then the link died): fail it rather than risk doing it twice. */
  private lose(entry: Pending): void {
    this.finish(entry);
    this.log("warning", "connection_lost", { field: entry.field });
    entry.reject(new ImError("connection_lost", `the link died before ${entry.field} was answered; check before retrying`, { field: entry.field }));
  }

  private settle(entry: Pending, frame: pb.Frame): void {
    if (!this.pending.has(entry.id)) return;
    this.finish(entry);
    if (frame.body.case === "error") {
      entry.reject(new ImError(frame.body.value.code, frame.body.value.message, { field: entry.field }));
    } else if (frame.body.case === entry.expect) {
      entry.resolve(frame);
    } else {
      entry.reject(new ImError("unexpected_reply", `${entry.field} was answered with ${frame.body.case}`));
    }
  }

  /** After a new login: everything still unanswered goes out again, in order, same clientMsgIds. */
  private flush(): void {
    for (const entry of [...this.pending.values()]) {
      if (entry.link !== null && entry.link !== this.link) entry.link = null;
      if (entry.link === null && !entry.overHttp && entry.written) this.counters.resent += 1;
      this.dispatch(entry);
    }
  }

  private credentials() {
    const s = this.settings;
    return { appKey: s.appKey, accid: this.accid, token: this.token, deviceId: s.deviceId, platform: s.platform };
  }

  // --- connecting ---------------------------------------------------------------------------------

  private reconnectNow(): void {
    this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    void this.connectRound();
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.link !== null || this.reconnectTimer !== null) return;
    const delay = this.backoff.nextDelay(!this.foreground);
    this.log("info", "reconnect_scheduled", { delay, outage: this.backoff.outageSeconds() });
    this.reconnectTimer = this.clock.setTimeout(() => {
      this.reconnectTimer = null;
      void this.connectRound();
    }, delay * 1000);
  }

  /**
   * One connect round: race the ranked candidates (a new one every raceInterval, at most maxInFlight
   * at once). Logins are made one at a time, on the first socket that opened: two logins of one
   * device would replace each other's sessions on the server.
   */
  private async connectRound(): Promise<void> {
    if (this.stopped || this.link !== null) return;
    if (this.roundActive) {
      // A round is finishing (its winner may just have dropped): run another after it.
      this.roundAgain = true;
      return;
    }
    this.roundActive = true;
    this.roundAgain = false;
    await this.restoring; // the login must carry the saved cursor
    // On the short link the app is served: background WebSocket attempts do not change the state.
    if (this._transport !== "http") this.setState("connecting", { transport: this._transport });
    this.backoff.begin();
    let outcome: "won" | "failed" | "fatal" = "failed";
    try {
      const endpoints = await this.endpoints.resolve();
      this.httpCandidates = endpoints.http;
      this.armHttpFallback();
      if (this.stopped) return;
      const candidates = this.ranking.order(this.network, endpoints.ws);
      this.log("info", "connect_round", { candidates });
      outcome = await this.race(candidates);
    } catch (error) {
      this.log("error", "connect_round_failed", { error });
    } finally {
      this.roundActive = false;
    }
    if (this.roundAgain && this.link === null && !this.stopped) {
      this.roundAgain = false;
      void this.connectRound();
      return;
    }
    if (outcome === "failed" && !this.stopped) {
      this.endpoints.invalidate();
      if (this.link === null && this._transport !== "http") this.setState("disconnected", { transport: this._transport, reason: "unreachable" });
      void this.tryHttp();
      this.scheduleReconnect();
    }
  }

  private race(candidates: string[]): Promise<"won" | "failed" | "fatal"> {
    const s = this.settings;
    return new Promise((finish) => {
      let next = 0;
      let inFlight = 0;
      let done = false;
      let loginBusy = false;
      const ready: Link[] = [];
      let raceTimer: unknown = null;
      this.roundAborts = [];

      const end = (result: "won" | "failed" | "fatal"): void => {
        if (done) return;
        done = true;
        this.clock.clearTimeout(raceTimer);
        for (const abort of this.roundAborts) abort();
        this.roundAborts = [];
        for (const link of ready.splice(0)) link.close(1000, "lost the race");
        finish(result);
      };
      const maybeEnd = (): void => {
        if (!done && next >= candidates.length && inFlight === 0 && !loginBusy && ready.length === 0) end("failed");
      };
      const tryLogin = (): void => {
        if (done || loginBusy) return;
        const link = ready.shift();
        if (link === undefined) {
          maybeEnd();
          return;
        }
        loginBusy = true;
        this.loginOn(link).then(
          () => {
            loginBusy = false;
            this.ranking.record(this.network, link.url, true);
            end("won");
          },
          (error: ImError) => {
            loginBusy = false;
            link.close(1000, "login failed");
            if (AUTH_FAILURE_CODES.has(error.code) || error.code === "protocol_mismatch") {
              end("fatal");
              if (error.code === "protocol_mismatch") this.protocolMismatch(error);
              else this.authFailed(error);
              return;
            }
            this.ranking.record(this.network, link.url, false);
            this.log("warning", "login_attempt_failed", { url: link.url, code: error.code, error: error.message });
            tryLogin();
            launch();
          },
        );
      };
      const launch = (): void => {
        if (this.stopped) end("fatal");
        if (done) return;
        if (next >= candidates.length || inFlight >= s.maxInFlight) {
          maybeEnd();
          return;
        }
        const url = candidates[next++]!;
        inFlight += 1;
        this.counters.connectAttempts += 1;
        void this.openOne(url).then(
          (link) => {
            inFlight -= 1;
            if (link === null) {
              launch();
              maybeEnd();
              return;
            }
            if (done) {
              link.close(1000, "lost the race");
              return;
            }
            ready.push(link);
            tryLogin();
          },
          () => undefined,
        );
      };
      const tick = (): void => {
        if (this.stopped) end("fatal");
        if (done) return;
        launch();
        raceTimer = this.clock.setTimeout(tick, s.raceInterval * 1000);
      };
      if (candidates.length === 0) {
        end("failed");
        return;
      }
      tick();
    });
  }

  /** TCP + WebSocket handshake to one candidate; null (and a ranking failure) when it does not open. */
  private async openOne(url: string): Promise<Link | null> {
    const started = this.clock.now();
    let Ctor;
    try {
      Ctor = await webSocketConstructor();
    } catch (error) {
      this.emitError(error as ImError);
      return null;
    }
    const attempt = Link.open(url, this.settings.encoding, Ctor);
    this.roundAborts.push(attempt.abort);
    const timer = this.clock.setTimeout(attempt.abort, this.settings.connectTimeout * 1000);
    try {
      const link = await attempt.link;
      link.startedAt = started;
      this.log("debug", "socket_open", { url, ms: this.clock.now() - started });
      return link;
    } catch (error) {
      const imError = error as ImError;
      if (imError.code === "protocol_mismatch") {
        this.protocolMismatch(imError);
        return null;
      }
      this.ranking.record(this.network, url, false);
      this.log("warning", "socket_failed", { url, code: imError.code, error: imError.message });
      return null;
    } finally {
      this.clock.clearTimeout(timer);
    }
  }

  /** Send login on an open socket and wait for its answer (connectTimeout); adopt the link on success. */
  private loginOn(link: Link): Promise<void> {
    const id = this.newRequestId();
    const frame = create(pb.FrameSchema, {
      requestId: id,
      body: {
        case: "login",
        value: create(pb.LoginSchema, {
          appKey: this.settings.appKey,
          accid: this.accid,
          token: this.token,
          deviceId: this.settings.deviceId,
          platform: this.settings.platform,
          clientVersion: this.settings.clientVersion,
          syncCursor: this.cursor,
          // Declare the longest interval we may learn, so the server's idle timeout covers it.
          heartbeatInterval: Math.round(this.settings.heartbeatMax),
          protocolVersion: PROTOCOL_VERSION,
        }),
      },
    });
    return new Promise<void>((resolve, reject) => {
      const left = Math.max(0, this.settings.connectTimeout * 1000 - (this.clock.now() - link.startedAt));
      const timer = this.clock.setTimeout(() => {
        reject(new ImError("connect_timeout", "no login result within connectTimeout", { url: link.url }));
      }, left);
      const early: pb.Frame[] = [];
      link.onClose = (code) => {
        this.clock.clearTimeout(timer);
        reject(new ImError(code === 4001 ? "bad_credentials" : "connect_failed", `closed during login (${code})`, { url: link.url }));
      };
      link.onGarbage = (error) => this.emitError(error);
      link.onFrame = (reply) => {
        if (reply.requestId !== id) {
          early.push(reply);
          return;
        }
        this.clock.clearTimeout(timer);
        if (reply.body.case === "loginResult") {
          const result = reply.body.value;
          if (result.protocolVersion !== 0 && result.protocolVersion !== PROTOCOL_VERSION) {
            reject(new ImError("protocol_mismatch", `server speaks protocol ${result.protocolVersion}`));
            return;
          }
          if (this.stopped) {
            reject(new ImError("closed", "closed during login"));
            return;
          }
          this.adopt(link, result, early);
          resolve();
        } else if (reply.body.case === "error") {
          reject(new ImError(reply.body.value.code, reply.body.value.message, { url: link.url, fatal: reply.body.value.fatal }));
        } else {
          reject(new ImError("protocol_mismatch", `login was answered with ${reply.body.case}`));
        }
      };
      if (!link.send(frame)) {
        this.clock.clearTimeout(timer);
        reject(new ImError("connect_failed", "could not write login", { url: link.url }));
      }
    });
  }

  private adopt(link: Link, result: pb.LoginResult, early: pb.Frame[]): void {
    this.link = link;
    this.counters.logins += 1;
    this.maxFrameBytes = result.maxFrameBytes;
    this.backoff.reset();
    this.clock.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.clock.clearTimeout(this.fallbackTimer);
    this.fallbackTimer = null;
    this.stopPolling();
    this.httpBase = null;
    this._transport = "websocket";
    link.onFrame = (frame) => this.onFrame(link, frame);
    link.onClose = (code, reason) => this.onLinkClosed(link, code, reason);
    link.onGarbage = (error) => {
      // A link that delivers garbage cannot be trusted with the stream: drop it, reconnect.
      this.log("warning", "garbage_frame", { url: link.url, error: error.message });
      this.emitError(error);
      link.close(1000, "garbage frame");
    };
    this.log("info", "logged_in", { url: link.url, sessionId: result.sessionId, heartbeat: this.heartbeat.snapshot() });
    this.setState("connected", { transport: "websocket", url: link.url });
    for (const frame of early) this.onFrame(link, frame);
    if (!this.foreground) this.appState({ foreground: false }).catch(() => undefined);
    this.flush();
    this.schedulePing();
    if (this.listedOnce) {
      // A re-login sent the cursor: the server pushes the conversations changed since.
      this.resolveLogin();
    } else {
      // login() resolves once the past is listed, so that whatever arrives after it is new.
      this.sync()
        .catch((error: unknown) => this.log("warning", "initial_sync_failed", { error }))
        .finally(() => this.resolveLogin());
    }
  }

  private resolveLogin(): void {
    this.everLoggedIn = true;
    for (const waiter of this.loginWaiters.splice(0)) waiter.resolve();
  }

  private onLinkClosed(link: Link, code: number, reason: string): void {
    if (this.link !== link) return;
    this.link = null;
    this.stopHeartbeat();
    for (const entry of [...this.pending.values()]) {
      if (entry.link !== link) continue;
      this.clock.clearTimeout(entry.firstTimer);
      entry.link = null;
      if (!entry.idempotent) this.lose(entry);
    }
    this.log("warning", "link_closed", { url: link.url, code, reason });
    if (this.stopped) return;
    if (code === 4001) {
      this.authFailed(new ImError("bad_credentials", "login refused"));
      return;
    }
    this.setState("disconnected", { transport: this._transport, url: link.url, reason, code });
    this.reconnectNow();
  }

  // --- frames from the server ---------------------------------------------------------------------

  private onFrame(link: Link, frame: pb.Frame): void {
    if (this.link !== link) return;
    if (this.pingId !== null && frame.requestId === this.pingId && frame.body.case === "pong") {
      this.pingId = null;
      this.clock.clearTimeout(this.pongTimer);
      this.heartbeat.success();
      this.log("debug", "pong", { heartbeat: this.heartbeat.snapshot() });
    }
    if (this.pingId === null) this.schedulePing(); // any frame postpones the next ping
    if (frame.requestId !== 0n) {
      const entry = this.pending.get(frame.requestId);
      if (entry === undefined) return;
      if (frame.body.case === "error" && frame.body.value.code === "rate_limited" && entry.link === link) {
        this.retryLater(entry, this.rateLimitPause(entry));
      } else {
        this.settle(entry, frame);
      }
      return;
    }
    this.onPush(frame);
  }

  private onPush(frame: pb.Frame): void {
    const body = frame.body;
    switch (body.case) {
      case "message":
        this.incoming(body.value);
        break;
      case "syncResult":
        this.conversationList(body.value);
        if (body.value.hasMore) this.sync().catch((error: unknown) => this.log("warning", "sync_failed", { error }));
        break;
      case "receipt":
        this.events.emit("receipt", body.value);
        break;
      case "typing":
        this.events.emit("typing", body.value);
        break;
      case "teamNotice":
        this.events.emit("team", body.value);
        break;
      case "kick":
        this.kicked(body.value);
        break;
      case "error":
        this.log("warning", "server_error", { code: body.value.code, message: body.value.message, fatal: body.value.fatal });
        this.emitError(new ImError(body.value.code, body.value.message, { fatal: body.value.fatal }));
        break;
      default:
        this.log("debug", "push_ignored", { case: body.case });
    }
  }

  private kicked(kick: pb.Kick): void {
    this.log("warning", "kicked", { reason: kick.reason, detail: kick.detail });
    if (kick.reason === pb.KickReason.SERVER) return; // the gateway is going away: the close reconnects us
    const error = new ImError("kicked", kick.detail || "kicked", { reason: kick.reason });
    this.stop("kicked", { transport: this._transport, reason: pb.KickReason[kick.reason], kick }, error);
    this.emitError(error);
  }

  // --- delivery -----------------------------------------------------------------------------------

  private incoming(message: pb.Message): void {
    const key = conversationKey(message.conversationType, message.target);
    // Once the past is listed, a conversation not seen yet is new: all of it is for the app.
    if (this.listedOnce) this.order.baseline(key, 0n);
    const accepted = this.order.accept(key, message);
    this.deliver(accepted.deliver);
    if (accepted.gapAfter !== undefined) this.fillGap(message.conversationType, message.target);
  }

  private ownSeq(type: pb.ConversationType, target: string, seq: bigint): void {
    if (seq === 0n) return;
    const key = conversationKey(type, target);
    // A conversation this send started (or one not seen yet) is all new: seqs below ours are
    // messages still on their way to us, to be handed over, not skipped.
    if (this.listedOnce) this.order.baseline(key, 0n);
    const accepted = this.order.own(key, seq);
    this.deliver(accepted.deliver);
    if (accepted.gapAfter !== undefined) this.fillGap(type, target);
  }

  private deliver(messages: pb.Message[]): void {
    for (const message of messages) {
      for (const error of this.events.emit("message", message)) this.log("error", "handler_failed", { error });
      if (message.type === pb.MessageType.RECALL) this.events.emit("recall", message);
    }
  }

  /** A conversation list (pushed after login, or asked for): note the cursor, fetch what we miss. */
  private conversationList(result: pb.SyncResult): void {
    if (result.cursor) this.cursor = result.cursor;
    const first = !this.listedOnce;
    for (const summary of result.conversations) {
      const key = conversationKey(summary.conversationType, summary.target);
      // The first listing is the past (history() reaches it); a conversation that appears later
      // is new since, and is fetched from its start.
      if (this.order.baseline(key, first ? summary.lastSeq : 0n) && first) continue;
      const highest = this.order.highest(key) ?? 0n;
      if (summary.lastSeq > highest) this.fillGap(summary.conversationType, summary.target);
    }
    if (!result.hasMore) this.listedOnce = true;
  }

  /** Fetch one conversation after the highest seq handed over, page by page, until nothing is missing. */
  private fillGap(type: pb.ConversationType, target: string): void {
    const key = conversationKey(type, target);
    if (this.syncing.has(key)) {
      this.syncing.set(key, true); // run once more when the current pass ends
      return;
    }
    this.syncing.set(key, false);
    void (async () => {
      try {
        for (;;) {
          let result: pb.SyncResult;
          do {
            const after = this.order.highest(key) ?? 0n;
            result = await this.rpcSync({ conversationType: type, target, afterSeq: after, limit: 100 });
            for (const message of result.messages) this.deliver(this.order.accept(key, message).deliver);
          } while (result.hasMore && result.messages.length > 0);
          const skipped = this.order.skipGap(key);
          if (skipped.length > 0) this.log("warning", "gap_skipped", { conversation: key, from: skipped[0]!.seq });
          this.deliver(skipped);
          if (!this.syncing.get(key)) break;
          this.syncing.set(key, false);
        }
      } catch (error) {
        this.log("warning", "gap_sync_failed", { conversation: key, error });
      } finally {
        this.syncing.delete(key);
      }
    })();
  }

  // --- heartbeat ----------------------------------------------------------------------------------

  private schedulePing(): void {
    if (this.link === null) return;
    this.clock.clearTimeout(this.pingTimer);
    this.pingTimer = this.clock.setTimeout(() => this.ping(), this.heartbeat.interval() * 1000);
  }

  private ping(): void {
    const link = this.link;
    if (link === null) return;
    const id = this.newRequestId();
    this.pingId = id;
    link.send(create(pb.FrameSchema, { requestId: id, body: { case: "ping", value: create(pb.PingSchema, { clientTime: BigInt(this.clock.now()) }) } }));
    this.pongTimer = this.clock.setTimeout(() => {
      if (this.pingId !== id || this.link !== link) return;
      this.pingId = null;
      this.heartbeat.failure();
      this.log("warning", "pong_timeout", { url: link.url, heartbeat: this.heartbeat.snapshot() });
      link.close(1000, "no pong");
    }, this.settings.pongTimeout * 1000);
  }

  private stopHeartbeat(): void {
    this.clock.clearTimeout(this.pingTimer);
    this.clock.clearTimeout(this.pongTimer);
    this.pingTimer = this.pongTimer = null;
    this.pingId = null;
  }

  // --- short link ---------------------------------------------------------------------------------

  private armHttpFallback(): void {
    if (this.fallbackTimer !== null || this.httpCandidates.length === 0 || this._transport === "http") return;
    this.fallbackTimer = this.clock.setTimeout(() => {
      this.fallbackTimer = null;
      void this.tryHttp();
    }, this.settings.httpFallbackAfter * 1000);
  }

  /** No WebSocket gets through: carry on over POST /api/v1/client/frames while WebSockets keep trying. */
  private async tryHttp(): Promise<void> {
    if (this.stopped || this.link !== null || this._transport === "http") return;
    for (const base of this.httpCandidates) {
      try {
        const frame = create(pb.FrameSchema, { requestId: this.newRequestId(), body: { case: "sync", value: create(pb.SyncRequestSchema, { cursor: this.cursor }) } });
        const reply = await postFrame(base, frame, this.credentials(), this.settings.encoding, this.settings.httpTimeout);
        if (this.stopped || this.link !== null) return;
        if (reply.body.case !== "syncResult") {
          this.log("warning", "http_fallback_refused", { base, case: reply.body.case });
          continue;
        }
        this.httpBase = base;
        this._transport = "http";
        this.log("info", "http_fallback", { base });
        this.setState("connected", { transport: "http", url: base });
        this.conversationList(reply.body.value);
        this.resolveLogin();
        this.flush();
        this.startPolling();
        return;
      } catch (error) {
        const imError = error as ImError;
        if (AUTH_FAILURE_CODES.has(imError.code)) {
          this.authFailed(imError);
          return;
        }
        this.log("warning", "http_fallback_failed", { base, error: imError.message });
      }
    }
  }

  private startPolling(): void {
    this.stopPolling();
    const poll = (): void => {
      this.pollTimer = this.clock.setTimeout(() => {
        if (this._transport !== "http" || this.stopped) return;
        this.flush();
        this.sync().catch((error: unknown) => this.log("warning", "http_poll_failed", { error })).finally(() => {
          if (this._transport === "http" && !this.stopped) poll();
        });
      }, this.settings.httpPollInterval * 1000);
    };
    poll();
  }

  private stopPolling(): void {
    this.clock.clearTimeout(this.pollTimer);
    this.pollTimer = null;
  }

  // --- saved state --------------------------------------------------------------------------------

  /** Pick up where the last client of this user left off (options.store). */
  private async restore(cursorGiven: string | undefined): Promise<void> {
    const heartbeat = await this.keeper.load(HEARTBEAT_KEY);
    if (heartbeat !== null) this.heartbeat.restore(heartbeat);
    const session = await this.keeper.load(sessionKey(this.settings.appKey, this.accid));
    if (session === null) return;
    const delivered = typeof session.delivered === "object" && session.delivered !== null ? session.delivered : {};
    for (const [key, seq] of Object.entries(delivered)) {
      if (Number.isSafeInteger(seq) && key.includes(":")) this.order.restore(key, BigInt(seq as number));
    }
    if (typeof session.cursor === "string" && session.cursor !== "" && cursorGiven === undefined) {
      // Everything listed since this cursor is new to the app, including conversations that began
      // while no client ran: those are fetched from their start.
      this.cursor = this.savedCursor = session.cursor;
      this.listedOnce = true;
    }
    this.log("info", "state_restored", { cursor: this.cursor !== "", conversations: this.order.keys().length });
  }

  private savedState(): Record<string, StateDocument> {
    // A cursor is saved once its listing is fetched, or a restart would skip what is still missing.
    if (this.syncing.size === 0 && !this.order.holding()) this.savedCursor = this.cursor;
    const positions = [...this.order.positions()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return {
      [sessionKey(this.settings.appKey, this.accid)]: {
        cursor: this.savedCursor,
        delivered: Object.fromEntries(positions.map(([key, seq]) => [key, Number(seq)])),
      },
      [HEARTBEAT_KEY]: this.heartbeat.export(),
    };
  }

  /** Batched writes: one snapshot every storeFlushInterval, never per message. */
  private schedulePersist(): void {
    this.clock.clearTimeout(this.persistTimer);
    this.persistTimer = this.clock.setTimeout(() => {
      if (this.stopped) return;
      void this.keeper.save(this.savedState()).finally(() => {
        if (!this.stopped) this.schedulePersist();
      });
    }, this.settings.storeFlushInterval * 1000);
  }

  // --- ending -------------------------------------------------------------------------------------

  private authFailed(error: ImError): void {
    this.log("error", "auth_failed", { code: error.code, error: error.message });
    this.stop("auth_failed", { transport: this._transport, reason: error.message, code: error.code }, error);
    this.emitError(error);
  }

  private protocolMismatch(error: ImError): void {
    if (this.stopped) return;
    const mismatch = new ImError("protocol_mismatch", error.message, error.details);
    this.log("error", "protocol_mismatch", { error: error.message });
    this.stop("disconnected", { transport: this._transport, reason: "protocol_mismatch" }, mismatch);
    this.emitError(mismatch);
  }

  /** No more reconnects: close the link, fail what is pending, tell the app. */
  private stop(state: ConnectionState, detail: StateDetail, error: ImError): void {
    if (this.stopped && this._state === state) return;
    this.stopped = true;
    for (const abort of this.roundAborts.splice(0)) abort();
    for (const timer of [this.reconnectTimer, this.fallbackTimer, this.persistTimer]) this.clock.clearTimeout(timer);
    this.reconnectTimer = this.fallbackTimer = this.persistTimer = null;
    if (this.accid !== "") void this.keeper.save(this.savedState());
    this.stopPolling();
    this.httpBase = null;
    this.stopHeartbeat();
    const link = this.link;
    this.link = null;
    link?.close(1000, detail.reason ?? state);
    for (const entry of [...this.pending.values()]) {
      this.finish(entry);
      entry.reject(error);
    }
    for (const waiter of this.loginWaiters.splice(0)) waiter.reject(error);
    this.unhook();
    this.unhook = () => {};
    this._transport = "websocket";
    this.setState(state, detail);
  }

  // --- plumbing -----------------------------------------------------------------------------------

  private setState(state: ConnectionState, detail: StateDetail): void {
    if (state === this._state && state !== "connected") return;
    this._state = state;
    this.log("info", "state", { state, ...detail, kick: undefined });
    for (const error of this.events.emit("state", state, detail)) this.log("error", "handler_failed", { error });
  }

  private emitError(error: ImError): void {
    this.events.emit("error", error);
  }

  private log(level: LogLevel, event: string, fields: Record<string, unknown> = {}): void {
    this.logRing.add(level, event, fields);
  }

  /** Browsers: reconnect at once when the network comes back; follow the page's visibility. */
  private hookBrowser(): void {
    const win = (globalThis as { window?: Window }).window;
    const doc = (globalThis as { document?: Document }).document;
    if (!this.settings.browserHooks || win?.addEventListener === undefined) return;
    const online = (): void => this.networkChanged();
    const visibility = (): void => this.setForeground(doc?.visibilityState !== "hidden");
    win.addEventListener("online", online);
    doc?.addEventListener("visibilitychange", visibility);
    this.unhook = () => {
      win.removeEventListener("online", online);
      doc?.removeEventListener("visibilitychange", visibility);
    };
  }
}
