/** The client's connection logic against a scripted fake gateway (real sockets, no imcloud server). */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { afterEach, test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { Client, type ClientOptions, type ConnectionState, ImError, pb } from "../../src/index.js";
import { blackHole, FakeGateway, FakeShortLink, until } from "../fake-gateway.js";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function gateway(): Promise<FakeGateway> {
  const g = await FakeGateway.start();
  cleanup.push(() => g.close());
  return g;
}

function client(options: Partial<ClientOptions>): { client: Client; states: ConnectionState[]; messages: pb.Message[]; errors: ImError[] } {
  const c = new Client({ appKey: "app", deviceId: "dev", requestTimeout: 20, ...options });
  cleanup.push(() => c.close());
  const record = { client: c, states: [] as ConnectionState[], messages: [] as pb.Message[], errors: [] as ImError[] };
  c.on("state", (s) => record.states.push(s));
  c.on("message", (m) => record.messages.push(m));
  c.on("error", (e) => record.errors.push(e));
  return record;
}

test("racing: a black-holed first endpoint does not hold the login up; the next one wins", { timeout: 20_000 }, async () => {
  const hole = await blackHole();
  cleanup.push(hole.close);
  const g = await gateway();
  const { client: c } = client({ endpoints: [hole.url, g.url], raceInterval: 0.2, connectTimeout: 15 });
  const started = Date.now();
  await c.login("alice", "good");
  // Without racing the login would wait out the 15 s connect timeout of the black hole first.
  assert.ok(Date.now() - started < 10_000, "logged in while the black hole was still pending");
  assert.equal(c.dumpLog().filter((e) => e.event === "logged_in").at(-1)!.url, g.url);
  await until(() => hole.sockets.length > 0 && hole.closed() === hole.sockets.length, "the losing attempt closed");
  assert.equal(g.logins, 1, "one login at a time: never two sessions of one device");
});

test("a request unanswered on a link kills the link; the send is resent after reconnecting with the same clientMsgId", { timeout: 20_000 }, async () => {
  const g = await gateway();
  let swallowed = 0;
  g.script = (_conn, frame) => frame.body.case === "send" && swallowed++ === 0; // the first send vanishes
  const { client: c, states } = client({ endpoints: [g.url], firstResponseTimeout: 0.3 });
  await c.login("alice", "good");
  const ack = await c.sendText("bob", "hello");
  const sends = g.frames("send").map((f) => (f.body.value as pb.SendMessage).clientMsgId);
  assert.deepEqual(sends, [ack.clientMsgId, ack.clientMsgId]);
  assert.equal(g.logins, 2);
  assert.deepEqual(states, ["connecting", "connected", "disconnected", "connecting", "connected"]);
  assert.ok(c.dumpLog().some((e) => e.event === "first_response_timeout"));
});

test("a request fails with timeout after requestTimeout in total", { timeout: 20_000 }, async () => {
  const g = await gateway();
  g.script = (_conn, frame) => frame.body.case === "getTeam";
  const { client: c } = client({ endpoints: [g.url], firstResponseTimeout: 30 });
  await c.login("alice", "good");
  await assert.rejects(c.getTeam({ teamId: "1" }, { timeout: 0.3 }), (e: ImError) => e.code === "timeout");
});

test("a missing pong closes the link and the client reconnects", { timeout: 20_000 }, async () => {
  const g = await gateway();
  g.script = (_conn, frame, gw) => frame.body.case === "ping" && gw.logins === 1; // the first link never answers pings
  const { client: c } = client({ endpoints: [g.url], heartbeatMin: 0.2, heartbeatMax: 570, pongTimeout: 0.2 });
  await c.login("alice", "good");
  await until(() => g.logins === 2 && g.frames("ping").length >= 2, "a reconnect and a ping on the new link");
  const log = c.dumpLog();
  assert.ok(log.some((e) => e.event === "pong_timeout"));
  assert.equal(g.frames("login").at(-1)!.body.case, "login");
  assert.equal((g.frames("login")[0]!.body.value as pb.Login).heartbeatInterval, 570, "login declares heartbeatMax");
});

test("a seq gap triggers a sync of that conversation; every message is handed over once, in order", { timeout: 20_000 }, async () => {
  const g = await gateway();
  const { client: c, messages } = client({ endpoints: [g.url] });
  await c.login("alice", "good");
  const m1 = g.message("bob", 1, "one");
  g.message("bob", 2, "two");
  const m3 = g.message("bob", 3, "three");
  g.push({ case: "message", value: m1 });
  g.push({ case: "message", value: m3 }); // 2 was lost on the way
  g.push({ case: "message", value: m1 }); // and a duplicate
  await until(() => messages.length === 3, "three messages");
  assert.deepEqual(messages.map((m) => [m.seq, m.text]), [[1n, "one"], [2n, "two"], [3n, "three"]]);
  const syncs = g.frames("sync").map((f) => f.body.value as pb.SyncRequest).filter((s) => s.target === "bob");
  assert.deepEqual(syncs.map((s) => s.afterSeq), [1n]);
});

test("a kick for another device stops the client; a server kick reconnects it", { timeout: 20_000 }, async () => {
  const g = await gateway();
  const first = client({ endpoints: [g.url] });
  await first.client.login("alice", "good");
  g.push({ case: "kick", value: create(pb.KickSchema, { reason: pb.KickReason.SERVER }) });
  g.dropAll();
  await until(() => g.logins === 2, "the reconnect after a server kick");
  g.push({ case: "kick", value: create(pb.KickSchema, { reason: pb.KickReason.OTHER_DEVICE, detail: "newer login" }) });
  await until(() => first.client.state === "kicked", "kicked");
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(g.logins, 2, "no reconnect after the kick");
  await assert.rejects(first.client.sendText("bob", "x"), (e: ImError) => e.code === "kicked");
});

test("bad credentials: auth_failed, the error event, and no second attempt", { timeout: 20_000 }, async () => {
  const g = await gateway();
  const { client: c, states, errors } = client({ endpoints: [g.url] });
  await assert.rejects(c.login("alice", "bad"), (e: ImError) => e.code === "bad_credentials");
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.deepEqual(states, ["connecting", "auth_failed"]);
  assert.deepEqual(errors.map((e) => e.code), ["bad_credentials"]);
  assert.equal(g.connections, 1);
});

test("a server speaking another protocol version: protocol_mismatch and no reconnect", { timeout: 20_000 }, async () => {
  const g = await gateway();
  g.protocolVersion = 2;
  const { client: c, errors } = client({ endpoints: [g.url] });
  await assert.rejects(c.login("alice", "good"), (e: ImError) => e.code === "protocol_mismatch");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.deepEqual(errors.map((e) => e.code), ["protocol_mismatch"]);
  assert.equal(g.connections, 1);
});

test("the LBS answer is used and cached for its ttl; the built-in endpoints are the fallback", { timeout: 20_000 }, async () => {
  const g = await gateway();
  let hits = 0;
  const lbs = createServer((request, response) => {
    hits += 1;
    assert.match(request.url!, /appkey=app/);
    response.setHeader("Content-Type", "application/json");
    response.end(JSON.stringify({ gateways: [g.url], http: [], ttl: 300 }));
  });
  await new Promise<void>((resolve) => lbs.listen(0, "127.0.0.1", () => resolve()));
  cleanup.push(() => new Promise((resolve) => lbs.close(() => resolve())));
  const port = (lbs.address() as { port: number }).port;
  const { client: c } = client({ lbsUrl: `http://127.0.0.1:${port}/api/v1/lbs`, endpoints: ["ws://127.0.0.1:9/ws"] });
  await c.login("alice", "good");
  g.dropAll();
  await until(() => g.logins === 2, "the reconnect");
  assert.equal(hits, 1, "the second round used the cached answer");
  assert.equal(c.dumpLog().filter((e) => e.event === "logged_in").at(-1)!.url, g.url);
});

test("networkChanged reconnects at once and keeps the heartbeat learned per network", { timeout: 20_000 }, async () => {
  const g = await gateway();
  const { client: c } = client({ endpoints: [g.url] });
  await c.login("alice", "good");
  c.networkChanged("cellular");
  await until(() => g.logins === 2, "the reconnect");
  assert.ok(c.dumpLog().some((e) => e.event === "network_changed" && e.network === "cellular"));
});

test("before login every call fails with not_logged_in", async () => {
  const c = new Client({ appKey: "app", endpoints: ["ws://127.0.0.1:9/ws"] });
  await assert.rejects(c.sendText("bob", "x"), (e: ImError) => e instanceof ImError && e.code === "not_logged_in");
  assert.throws(() => new Client({ appKey: "app" }), TypeError);
});

test("no WebSocket gets through: the short link carries sends; the first WebSocket login takes over again", { timeout: 30_000 }, async () => {
  const g = await gateway();
  g.refuse = true;
  const http = await FakeShortLink.start();
  cleanup.push(() => http.close());
  const { client: c, states } = client({ endpoints: [g.url], httpEndpoints: [http.base], httpPollInterval: 0.1, reconnectFastInterval: 0.2 });
  await c.login("alice", "good");
  assert.equal(c.transport, "http");
  const ack = await c.sendText("bob", "over http");
  const posted = http.requests.find((r) => r.frame.body.case === "send")!;
  assert.equal((posted.frame.body.value as pb.SendMessage).clientMsgId, ack.clientMsgId);
  assert.equal(posted.headers["x-im-accid"], "alice");
  assert.equal(posted.headers["x-im-token"], "good");
  assert.equal(posted.headers["content-type"], "application/x-protobuf");
  await until(() => http.requests.filter((r) => r.frame.body.case === "sync").length >= 3, "polling");
  await assert.rejects(c.appState({ foreground: true }), (e: ImError) => e.code === "unsupported_over_http");
  g.refuse = false;
  await until(() => c.transport === "websocket", "back on the WebSocket");
  assert.equal(g.logins, 1);
  assert.equal((g.frames("login")[0]!.body.value as pb.Login).syncCursor, "c-http", "the cursor learnt over HTTP is kept");
  const polls = http.requests.length;
  await c.sendText("bob", "over ws");
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(http.requests.length, polls, "no more polling once the WebSocket is back");
  assert.deepEqual(states, ["connecting", "disconnected", "connected", "connected"]);
});

test("an own send acknowledged ahead of the peer's messages still in flight: those are fetched, not skipped", { timeout: 20_000 }, async () => {
  const g = await gateway();
  g.script = (conn, frame, gw) => {
    if (frame.body.case !== "send") return false;
    // bob's two messages were stored before alice's, which therefore gets seq 3.
    gw.send(conn, frame.requestId, {
      case: "sendAck",
      value: create(pb.SendAckSchema, { clientMsgId: frame.body.value.clientMsgId, seq: 3n, conversationType: pb.ConversationType.P2P, target: "bob" }),
    });
    return true;
  };
  const { client: c, messages } = client({ endpoints: [g.url] });
  await c.login("alice", "good");
  const m1 = g.message("bob", 1, "one");
  const m2 = g.message("bob", 2, "two");
  const ack = await c.sendText("bob", "three");
  assert.equal(ack.seq, 3n);
  await until(() => messages.length === 2, "bob's two messages");
  g.push({ case: "message", value: m1 }); // the live pushes arrive late: duplicates now
  g.push({ case: "message", value: m2 });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.deepEqual(messages.map((m) => m.text), ["one", "two"]);
});
