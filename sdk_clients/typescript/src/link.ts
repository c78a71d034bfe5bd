import { decodeFrame, encodeFrame, SUBPROTOCOLS } from "./codec.js";
import { ImError } from "./errors.js";
import type { Frame } from "./gen/imcloud_pb.js";
import type { Encoding } from "./options.js";
import type { WebSocketConstructor, WebSocketLike } from "./websocket.js";

let nextLinkId = 1;
const CLOSE_GRACE_MS = 2000;

/** One WebSocket to one gateway. Frames in and out; the client decides what they mean. */
export class Link {
  readonly id = nextLinkId++;
  onFrame: (frame: Frame) => void = () => {};
  onGarbage: (error: ImError) => void = () => {};
  onClose: (code: number, reason: string) => void = () => {};
  closed = false;
  /** When the attempt that opened it started (clock ms): its connect timeout covers the login too. */
  startedAt = 0;

  private constructor(
    readonly url: string,
    private readonly socket: WebSocketLike,
    private readonly encoding: Encoding,
  ) {}

  /**
   * Open a socket and finish the WebSocket handshake. Rejects with ImError `connect_failed` (network),
   * `protocol_mismatch` (the server picked another subprotocol), or when `abort` fires.
   */
  static open(url: string, encoding: Encoding, Ctor: WebSocketConstructor): { link: Promise<Link>; abort: () => void } {
    let socket: WebSocketLike;
    let abort = (): void => {};
    const link = new Promise<Link>((resolve, reject) => {
      try {
        socket = new Ctor(url, [SUBPROTOCOLS[encoding]]);
      } catch (error) {
        reject(new ImError("connect_failed", String(error), { url }));
        return;
      }
      socket.binaryType = "arraybuffer";
      let settled = false;
      abort = () => {
        if (settled) return;
        settled = true;
        socket.onopen = socket.onclose = null;
        socket.onerror = () => {}; // an abandoned handshake reports an error: expected, not a crash
        try {
          socket.close();
        } catch {
          // closing a socket that never opened may throw in some runtimes
        }
        reject(new ImError("aborted", "connect attempt abandoned", { url }));
      };
      socket.onopen = () => {
        if (settled) return;
        settled = true;
        if (socket.protocol !== SUBPROTOCOLS[encoding]) {
          socket.close(1000);
          reject(new ImError("protocol_mismatch", `server chose subprotocol ${JSON.stringify(socket.protocol)}`, { url }));
          return;
        }
        resolve(new Link(url, socket, encoding).attach());
      };
      socket.onerror = () => {};
      socket.onclose = (event) => {
        if (settled) return;
        settled = true;
        reject(new ImError("connect_failed", `closed during handshake (${event.code})`, { url, code: event.code }));
      };
    });
    return { link, abort: () => abort() };
  }

  private attach(): this {
    this.socket.onmessage = (event) => {
      let frame: Frame;
      try {
        frame = decodeFrame(event.data as ArrayBuffer | string, this.encoding);
      } catch (error) {
        this.onGarbage(error as ImError);
        return;
      }
      this.onFrame(frame);
    };
    this.socket.onclose = (event) => this.closedBy(event.code, event.reason);
    this.socket.onerror = () => {};
    return this;
  }

  send(frame: Frame): boolean {
    if (this.closed) return false;
    try {
      this.socket.send(encodeFrame(frame, this.encoding));
      return true;
    } catch {
      return false;
    }
  }

  /** Close and report it at once (a dead path may never deliver the close handshake). */
  close(code = 1000, reason = ""): void {
    if (this.closed) return;
    try {
      this.socket.close(code, reason);
    } catch {
      // already closing
    }
    // On a dead path the closing handshake never completes, and the `ws` package would hold the
    // socket for 30 s: give it a moment to send the close frame, then let it go.
    const terminate = (this.socket as { terminate?: () => void }).terminate;
    if (typeof terminate === "function") {
      const timer = setTimeout(() => terminate.call(this.socket), CLOSE_GRACE_MS) as { unref?: () => void };
      timer.unref?.();
    }
    this.closedBy(code, reason || "closed by client");
  }

  private closedBy(code: number, reason: string): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.onmessage = null;
    this.socket.onclose = null;
    this.onClose(code, reason);
  }
}
