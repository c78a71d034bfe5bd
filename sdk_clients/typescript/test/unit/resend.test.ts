/** When a request is sent again: idempotent ones after a lost link, any after a rate-limit refusal. */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { afterEach, test } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { Client, type ClientOptions, ImError, pb } from "../../src/index.js";
import { FakeGateway, until } from "../fake-gateway.js";

const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function gateway(): Promise<FakeGateway> {
  const g = await FakeGateway.start();
  cleanup.push(() => g.close());
  return g;
}

function client(options: Partial<ClientOptions>): { client: Client; errors: ImError[] } {
  const c = new Client({ appKey: "app", deviceId: "dev", requestTimeout: 20, heartbeatMin: 60, ...options });
  cleanup.push(() => c.close());
  const errors: ImError[] = [];
  c.on("error", (e) => errors.push(e));
  return { client: c, errors };
}

function teamInfo(teamId: string): pb.Frame["body"] {
  return { case: "teamInfo", value: create(pb.TeamInfoSchema, { teamId, name: "Crew" }) };
}

function retryIns(c: Client): unknown[] {
  return c.dumpLog().filter((e) => e.event === "rate_limited").map((e) => e.retryIn);
}

test("a lost link fails what is not idempotent (connection_lost) and resends what is", { timeout: 20_000 }, async () => {
  const g = await gateway();
  const firstLink: pb.Frame[] = [];
  g.script = (conn, frame, gw) => {
    const body = frame.body;
    if (body.case !== "createTeam" && body.case !== "getTeam") return false;
    if (gw.logins === 1) {
      firstLink.push(frame);
      // Both written, neither answered: the link dies under them.
      if (firstLink.length === 2) conn.terminate();
      return true;
    }
    gw.send(conn, frame.requestId, teamInfo(body.case === "getTeam" ? body.value.teamId : "new"));
    return true;
  };
  const { client: c } = client({ endpoints: [g.url], reconnectFastInterval: 0.2 });
  await c.login("alice", "good");
  const created = c.createTeam({ name: "Crew", members: ["bob"] });
  const got = c.getTeam({ teamId: "t1" });
  await assert.rejects(created, (e: ImError) => e.code === "connection_lost");
  assert.equal((await got).teamId, "t1");
  assert.equal(g.logins, 2);
  // Creating a team twice would make two teams: only the first link ever saw createTeam.
  assert.equal(g.frames("createTeam").length, 1);
  assert.equal(g.frames("getTeam").length, 2);
  assert.ok(c.dumpLog().some((e) => e.event === "connection_lost" && e.field === "createTeam"));
});

test("a request never written goes on the next link even when it is not idempotent", { timeout: 20_000 }, async () => {
  const g = await gateway();
  g.script = (conn, frame, gw) => {
    if (frame.body.case !== "createTeam") return false;
    gw.send(conn, frame.requestId, teamInfo("t9"));
    return true;
  };
  const { client: c } = client({ endpoints: [g.url], reconnectFastInterval: 0.2 });
  await c.login("alice", "good");
  g.refuse = true;
  g.dropAll();
  await until(() => c.state !== "connected", "the link to drop");
  const created = c.createTeam({ name: "Crew" });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(g.frames("createTeam").length, 0, "nothing to write it to yet");
  g.refuse = false;
  assert.equal((await created).teamId, "t9");
  assert.equal(g.frames("createTeam").length, 1);
  assert.equal(g.logins, 2);
});

test("a rate_limited answer is not a failure: the same link gets it again after a doubling pause", { timeout: 20_000 }, async () => {
  const g = await gateway();
  const times: number[] = [];
  g.script = (conn, frame, gw) => {
    if (frame.body.case !== "send") return false;
    times.push(Date.now());
    if (times.length > 2) return false; // the default answer: an ack
    gw.send(conn, frame.requestId, { case: "error", value: create(pb.ErrorSchema, { code: "rate_limited", message: "slow down" }) });
    return true;
  };
  const { client: c, errors } = client({ endpoints: [g.url], rateLimitDelay: 0.2 });
  await c.login("alice", "good");
  const ack = await c.sendText("bob", "hello", { clientMsgId: "r-1" });
  assert.equal(ack.clientMsgId, "r-1");
  assert.deepEqual(g.frames("send").map((f) => (f.body.value as pb.SendMessage).clientMsgId), ["r-1", "r-1", "r-1"]);
  assert.ok(times[1]! - times[0]! >= 190 && times[2]! - times[1]! >= 390, `pauses ${times}`);
  assert.deepEqual(retryIns(c), [0.2, 0.4]);
  assert.equal(g.logins, 1);
  assert.deepEqual(errors, [], "a refusal is not an error of the app's");
});

test("rate-limit pauses stop doubling at rateLimitMax and end with the request's total timeout", { timeout: 20_000 }, async () => {
  const g = await gateway();
  g.script = (conn, frame, gw) => {
    if (frame.body.case !== "getTeam") return false;
    gw.send(conn, frame.requestId, { case: "error", value: create(pb.ErrorSchema, { code: "rate_limited" }) });
    return true;
  };
  const { client: c, errors } = client({ endpoints: [g.url], rateLimitDelay: 0.1, rateLimitMax: 0.25 });
  await c.login("alice", "good");
  await assert.rejects(c.getTeam({ teamId: "t1" }, { timeout: 1.6 }), (e: ImError) => e.code === "timeout");
  const waits = retryIns(c);
  assert.deepEqual(waits.slice(0, 3), [0.1, 0.2, 0.25]);
  assert.ok(waits.length >= 4);
  assert.deepEqual([...new Set(waits.slice(3))], [0.25]);
  assert.equal(c.state, "connected");
  assert.deepEqual(errors, []);
});

test("the short link's 429 is honoured with its Retry-After", { timeout: 30_000 }, async () => {
  const sends: Array<[number, string]> = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const frame = fromBinary(pb.FrameSchema, new Uint8Array(Buffer.concat(chunks)));
      let body: pb.Frame["body"] = { case: "syncResult", value: create(pb.SyncResultSchema, { cursor: "h1" }) };
      response.setHeader("Content-Type", "application/x-protobuf");
      if (frame.body.case === "send") {
        sends.push([Date.now(), frame.body.value.clientMsgId]);
        if (sends.length === 1) {
          response.statusCode = 429;
          response.setHeader("Retry-After", "1");
          body = { case: "error", value: create(pb.ErrorSchema, { code: "rate_limited" }) };
        } else {
          body = { case: "sendAck", value: create(pb.SendAckSchema, { clientMsgId: frame.body.value.clientMsgId, seq: 1n, target: "bob" }) };
        }
      }
      response.end(toBinary(pb.FrameSchema, create(pb.FrameSchema, { requestId: frame.requestId, body })));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  cleanup.push(() => new Promise((resolve) => server.close(() => resolve())));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const { client: c, errors } = client({ endpoints: ["ws://127.0.0.1:9/ws"], httpEndpoints: [base], httpPollInterval: 30 });
  await c.login("alice", "good");
  assert.equal(c.transport, "http");
  const ack = await c.sendText("bob", "over http", { clientMsgId: "h-1" });
  assert.equal(ack.clientMsgId, "h-1");
  assert.deepEqual(sends.map(([, id]) => id), ["h-1", "h-1"]);
  assert.ok(sends[1]![0] - sends[0]![0] >= 990, "waited the Retry-After");
  assert.deepEqual(retryIns(c), [1]);
  assert.deepEqual(errors, []);
});

test("on the short link a failed POST counts as a lost link: createTeam fails, getTeam is resent", { timeout: 30_000 }, async () => {
  const posts: string[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const frame = fromBinary(pb.FrameSchema, new Uint8Array(Buffer.concat(chunks)));
      const kind = frame.body.case ?? "";
      posts.push(kind);
      let body: pb.Frame["body"] = { case: "syncResult", value: create(pb.SyncResultSchema, { cursor: "h1" }) };
      if (kind === "createTeam" || kind === "getTeam") {
        if (posts.filter((k) => k === kind).length === 1) {
          request.socket.destroy(); // read, maybe carried out, never answered
          return;
        }
        body = teamInfo("t1");
      }
      response.setHeader("Content-Type", "application/x-protobuf");
      response.end(toBinary(pb.FrameSchema, create(pb.FrameSchema, { requestId: frame.requestId, body })));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  cleanup.push(() => new Promise((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const { client: c } = client({ endpoints: ["ws://127.0.0.1:9/ws"], httpEndpoints: [base], httpPollInterval: 0.3, reconnectFastInterval: 0.2 });
  await c.login("alice", "good");
  assert.equal(c.transport, "http");
  await assert.rejects(c.createTeam({ name: "Crew" }), (e: ImError) => e.code === "connection_lost");
  assert.equal((await c.getTeam({ teamId: "t1" })).teamId, "t1");
  assert.equal(posts.filter((k) => k === "getTeam").length, 2);
  assert.equal(posts.filter((k) => k === "createTeam").length, 1);
});
