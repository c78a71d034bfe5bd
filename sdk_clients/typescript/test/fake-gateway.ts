/**
 * A scriptable stand-in for the gateway, for unit tests of the client's connection logic: a real
 * WebSocket server (the `ws` package) on a loopback port that speaks imcloud.v1.proto.
 */
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer, type Server, type Socket } from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type WebSocket, WebSocketServer } from "ws";
import * as pb from "../src/gen/imcloud_pb.js";

export type Body = pb.Frame["body"];
/** Return true when the frame was dealt with (the default behaviour is then skipped). */
export type Script = (conn: WebSocket, frame: pb.Frame, gateway: FakeGateway) => boolean;

export class FakeGateway {
  readonly received: Array<{ conn: number; frame: pb.Frame }> = [];
  readonly open = new Set<WebSocket>();
  connections = 0;
  logins = 0;
  script: Script = () => false;
  protocolVersion = 1;
  /** While true, WebSocket handshakes are refused (HTTP 503), as by a gateway behind a broken proxy. */
  refuse = false;
  private readonly ids = new Map<WebSocket, number>();
  private readonly streams = new Map<string, pb.Message[]>();

  private constructor(private readonly server: WebSocketServer, readonly url: string) {
    server.on("connection", (conn) => {
      this.connections += 1;
      this.ids.set(conn, this.connections);
      this.open.add(conn);
      conn.on("close", () => this.open.delete(conn));
      conn.on("message", (data) => {
        const frame = fromBinary(pb.FrameSchema, new Uint8Array(data as Buffer));
        this.received.push({ conn: this.ids.get(conn)!, frame });
        if (!this.script(conn, frame, this)) this.answer(conn, frame);
      });
    });
  }

  static start(): Promise<FakeGateway> {
    return new Promise((resolve) => {
      let gateway: FakeGateway | null = null;
      const server = new WebSocketServer({
        host: "127.0.0.1",
        port: 0,
        handleProtocols: (protocols) => (protocols.has("imcloud.v1.proto") ? "imcloud.v1.proto" : false),
        verifyClient: (_info, done) => done(!gateway?.refuse, 503),
      });
      server.on("listening", () => {
        const address = server.address() as { port: number };
        gateway = new FakeGateway(server, `ws://127.0.0.1:${address.port}/ws`);
        resolve(gateway);
      });
    });
  }

  frames(kind: string): pb.Frame[] {
    return this.received.filter((r) => r.frame.body.case === kind).map((r) => r.frame);
  }

  send(conn: WebSocket, requestId: bigint, body: Body): void {
    conn.send(toBinary(pb.FrameSchema, create(pb.FrameSchema, { requestId, body })));
  }

  push(body: Body): void {
    for (const conn of this.open) this.send(conn, 0n, body);
  }

  /** A message of `from` to the client, stored so that sync can serve it. */
  message(from: string, seq: number, text: string): pb.Message {
    const message = create(pb.MessageSchema, {
      serverMsgId: `m-${from}-${seq}`,
      conversationType: pb.ConversationType.P2P,
      target: from,
      fromAccid: from,
      seq: BigInt(seq),
      type: pb.MessageType.TEXT,
      text,
    });
    const stream = this.streams.get(from) ?? [];
    stream.push(message);
    stream.sort((a, b) => Number(a.seq - b.seq));
    this.streams.set(from, stream);
    return message;
  }

  dropAll(): void {
    for (const conn of this.open) conn.terminate();
  }

  close(): Promise<void> {
    for (const conn of this.open) conn.terminate();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private answer(conn: WebSocket, frame: pb.Frame): void {
    const body = frame.body;
    switch (body.case) {
      case "login":
        if (body.value.token !== "good") {
          this.send(conn, frame.requestId, { case: "error", value: create(pb.ErrorSchema, { code: "bad_credentials", fatal: true }) });
          conn.close(4001);
          return;
        }
        this.logins += 1;
        this.send(conn, frame.requestId, {
          case: "loginResult",
          value: create(pb.LoginResultSchema, { sessionId: `s${this.logins}`, protocolVersion: this.protocolVersion, heartbeatMin: 5, heartbeatMax: 600 }),
        });
        return;
      case "ping":
        this.send(conn, frame.requestId, { case: "pong", value: create(pb.PongSchema, {}) });
        return;
      case "send": {
        const key = body.value.target;
        const seq = BigInt(this.frames("send").filter((f) => f.body.case === "send" && f.body.value.target === key).length);
        this.send(conn, frame.requestId, {
          case: "sendAck",
          value: create(pb.SendAckSchema, { clientMsgId: body.value.clientMsgId, seq, conversationType: body.value.conversationType, target: key, serverMsgId: `s-${seq}` }),
        });
        return;
      }
      case "sync": {
        const stream = this.streams.get(body.value.target) ?? [];
        const messages = body.value.conversationType ? stream.filter((m) => m.seq > body.value.afterSeq) : [];
        this.send(conn, frame.requestId, { case: "syncResult", value: create(pb.SyncResultSchema, { messages, cursor: "c1" }) });
        return;
      }
      default:
        this.send(conn, frame.requestId, { case: "ack", value: create(pb.AckSchema) });
    }
  }
}

/** POST /api/v1/client/frames on a loopback port: answers sync and send like the short link. */
export class FakeShortLink {
  readonly requests: Array<{ headers: Record<string, string | string[] | undefined>; frame: pb.Frame }> = [];
  private seq = 0n;

  private constructor(private readonly server: HttpServer, readonly base: string) {}

  static start(): Promise<FakeShortLink> {
    return new Promise((resolve) => {
      let link: FakeShortLink;
      const server = createHttpServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on("data", (chunk: Buffer) => chunks.push(chunk));
        request.on("end", () => {
          const frame = fromBinary(pb.FrameSchema, new Uint8Array(Buffer.concat(chunks)));
          link.requests.push({ headers: request.headers, frame });
          let body: Body;
          if (frame.body.case === "send") {
            link.seq += 1n;
            body = { case: "sendAck", value: create(pb.SendAckSchema, { clientMsgId: frame.body.value.clientMsgId, seq: link.seq, target: frame.body.value.target, conversationType: frame.body.value.conversationType }) };
          } else {
            body = { case: "syncResult", value: create(pb.SyncResultSchema, { cursor: "c-http" }) };
          }
          response.setHeader("Content-Type", "application/x-protobuf");
          response.end(toBinary(pb.FrameSchema, create(pb.FrameSchema, { requestId: frame.requestId, body })));
        });
      });
      server.listen(0, "127.0.0.1", () => {
        link = new FakeShortLink(server, `http://127.0.0.1:${(server.address() as { port: number }).port}`);
        resolve(link);
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A TCP listener that accepts connections and never answers: a black-holed endpoint. */
export function blackHole(): Promise<{ url: string; sockets: Socket[]; closed: () => number; close: () => Promise<void> }> {
  return new Promise((resolve) => {
    const sockets: Socket[] = [];
    let closed = 0;
    const server: Server = createServer((socket) => {
      sockets.push(socket);
      socket.on("close", () => (closed += 1));
      socket.on("error", () => {});
      socket.resume(); // read and drop, so that the peer's close is noticed
    });
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        url: `ws://127.0.0.1:${port}/ws`,
        sockets,
        closed: () => closed,
        close: () =>
          new Promise((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
