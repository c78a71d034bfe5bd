/** The TypeScript SDK in Node 20 (the `ws` package) against two real gateways on PostgreSQL + Redis. */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { ImError, pb } from "../../src/index.js";
import { FAST, loggedIn, Recorder, client, rest, stack, waitFor } from "./helpers.js";

const [WS0, WS1] = stack.ws as [string, string];
const open: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const c of open) await c.close();
});

async function user(accid: string, endpoints: string[], extra = {}) {
  const pair = await loggedIn(accid, endpoints, extra);
  open.push(pair[0]);
  return pair;
}

test("two clients on two gateways log in and chat, in order and once each", { timeout: 60_000 }, async () => {
  assert.equal(typeof (globalThis as { WebSocket?: unknown }).WebSocket, "undefined", "Node 20: the ws package is used");
  const [alice, aliceSeen] = await user("alice", [WS0]);
  const [bob, bobSeen] = await user("bob", [WS1], { encoding: "json" });
  assert.equal(alice.state, "connected");
  assert.equal(alice.transport, "websocket");
  const acks = [];
  for (let n = 0; n < 5; n++) acks.push(await alice.sendText("bob", `hi ${n}`));
  assert.deepEqual(acks.map((a) => a.seq), [1n, 2n, 3n, 4n, 5n]);
  assert.ok(acks.every((a) => /^[0-9a-f]{32}$/.test(a.clientMsgId) && !a.duplicate));
  await waitFor(() => bobSeen.messages.length === 5, "bob's five messages");
  const reply = await bob.sendText("alice", "hello alice");
  await waitFor(() => aliceSeen.messages.length === 1, "alice's reply");
  assert.deepEqual(bobSeen.messages.map((m) => [m.seq, m.text, m.fromAccid, m.target]), [0, 1, 2, 3, 4].map((n) => [BigInt(n + 1), `hi ${n}`, "alice", "alice"]));
  // alice's own sends are not echoed to her: she sees bob's reply only, at seq 6.
  assert.deepEqual(aliceSeen.messages.map((m) => [m.seq, m.text, m.fromAccid]), [[6n, "hello alice", "bob"]]);
  assert.equal(reply.seq, 6n);
  const again = await alice.sendText("bob", "resent", { clientMsgId: acks[0]!.clientMsgId });
  assert.deepEqual([again.duplicate, again.seq], [true, 1n], "a resend with the same clientMsgId is deduplicated");
  assert.deepEqual([aliceSeen.errors, bobSeen.errors], [[], []]);
  const history = await bob.history("alice", { limit: 3 });
  assert.deepEqual(history.map((m) => m.seq), [4n, 5n, 6n]);
});

test("a team created through the SDK, its notice, and a team message to every member", { timeout: 60_000 }, async () => {
  const [alice] = await user("alice", [WS0], {}, );
  const [, bobSeen] = await user("bob", [WS1]);
  const [, carolSeen] = await user("carol", [WS0]);
  const team = await alice.createTeam({ name: "Crew", members: ["bob", "carol"] });
  assert.equal(team.owner, "alice");
  assert.equal(team.memberCount, 3);
  await waitFor(() => bobSeen.teams.length > 0, "bob's team notice");
  assert.equal(bobSeen.teams[0]!.teamId, team.teamId);
  assert.equal(bobSeen.teams[0]!.kind, pb.TeamChangeKind.CREATED);
  const members = await alice.listTeamMembers({ teamId: team.teamId });
  assert.deepEqual(members.members.map((m) => m.accid).sort(), ["alice", "bob", "carol"]);
  const ack = await alice.sendText(team.teamId, "hello crew", { team: true });
  assert.equal(ack.conversationType, pb.ConversationType.TEAM);
  for (const seen of [bobSeen, carolSeen]) {
    await waitFor(() => seen.messages.some((m) => m.target === team.teamId), "the team message");
    assert.deepEqual(
      seen.messages.filter((m) => m.target === team.teamId).map((m) => [m.seq, m.text, m.conversationType]),
      [[ack.seq, "hello crew", pb.ConversationType.TEAM]],
    );
  }
  await assert.rejects(alice.getTeam({ teamId: "999999" }), (e: ImError) => e instanceof ImError && e.code === "no_such_team");
});

test("read receipts and recall reach the other side", { timeout: 60_000 }, async () => {
  const [alice, aliceSeen] = await user("alice", [WS0]);
  const [bob, bobSeen] = await user("bob", [WS1]);
  const before = bobSeen.messages.length;
  const ack = await alice.sendText("bob", "regret this");
  await waitFor(() => bobSeen.messages.length === before + 1, "the message to recall");
  const read = await bob.markRead("alice", ack.seq);
  assert.equal(read.readSeq, ack.seq);
  await waitFor(() => aliceSeen.receipts.length > 0, "alice's receipt");
  assert.deepEqual(aliceSeen.receipts.map((r) => [r.readerAccid, r.readSeq, r.target]), [["bob", ack.seq, "bob"]]);
  const recalled = await alice.recall("bob", ack.serverMsgId);
  assert.equal(recalled.noticeSeq, ack.seq + 1n);
  await waitFor(() => bobSeen.recalls.length === 1, "bob's recall notice");
  const notice = bobSeen.recalls[0]!;
  assert.deepEqual([notice.type, notice.recalledSeq, notice.seq], [pb.MessageType.RECALL, ack.seq, ack.seq + 1n]);
  assert.equal(bobSeen.messages.at(-1), notice, "the notice also arrives in order as a message");
  // alice's own recall notice took the next seq; her next message follows it without a gap sync.
  const next = await alice.sendText("bob", "after the recall");
  assert.equal(next.seq, ack.seq + 2n);
});

test("bad credentials: login fails with the code, state auth_failed, and no reconnect loop", { timeout: 60_000 }, async () => {
  const c = client([WS0, WS1], "node-wrong");
  open.push(c);
  const seen = new Recorder(c);
  await assert.rejects(c.login("alice", "not-the-token"), (e: ImError) => e instanceof ImError && e.code === "bad_credentials");
  assert.equal(c.state, "auth_failed");
  assert.deepEqual(seen.states, ["connecting", "auth_failed"]);
  assert.deepEqual(seen.errors.map((e) => e.code), ["bad_credentials"]);
  // Watch for a while: nothing tries again.
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const rounds = c.dumpLog().filter((e) => e.event === "connect_round" || e.event === "socket_open");
  assert.deepEqual(rounds.map((e) => e.event), ["connect_round", "socket_open"]);
  await assert.rejects(c.sendText("bob", "x"), (e: ImError) => e.code === "auth_failed");
});

test("short link: with no WebSocket reachable the client sends and receives over HTTP", { timeout: 60_000 }, async () => {
  const dead = "ws://127.0.0.1:9/ws";
  const [carol, carolSeen] = await user("carol", [dead], { httpEndpoints: [stack.http[0]!], httpFallbackAfter: 1, httpPollInterval: 0.5 });
  assert.equal(carol.transport, "http");
  assert.equal(carol.state, "connected");
  const [alice, aliceSeen] = await user("alice", [WS0]);
  const ack = await carol.sendText("alice", "over http");
  await waitFor(() => aliceSeen.messages.some((m) => m.text === "over http"), "alice gets carol's short-link message");
  assert.equal(aliceSeen.messages.filter((m) => m.fromAccid === "carol").at(-1)!.seq, ack.seq);
  const first = carolSeen.messages.length;
  await alice.sendText("carol", "polled");
  await alice.sendText("carol", "polled again");
  await waitFor(() => carolSeen.messages.length === first + 2, "carol polls alice's messages");
  assert.deepEqual(carolSeen.messages.slice(first).map((m) => m.text), ["polled", "polled again"]);
  assert.ok(carol.dumpLog().some((e) => e.event === "http_fallback"));
});

test("a gateway killed mid-conversation: the client reconnects to the other one, nothing lost or duplicated", { timeout: 60_000 }, async () => {
  const [alice, aliceSeen] = await user("alice", [WS0]);
  const [bob, bobSeen] = await user("bob", [WS1, WS0]);
  assert.equal(bob.dumpLog().filter((e) => e.event === "logged_in").at(-1)!.url, WS1);
  const base = bobSeen.messages.length;
  const baseAlice = aliceSeen.from("bob").length;
  for (let n = 0; n < 3; n++) await alice.sendText("bob", `before ${n}`);
  await waitFor(() => bobSeen.messages.length === base + 3, "the messages before the kill");
  process.kill(stack.gatewayPids[1]!, "SIGKILL");
  // Both sides keep talking while bob's gateway is gone.
  const bobSends = [0, 1, 2].map((n) => bob.sendText("alice", `during ${n}`));
  for (let n = 0; n < 3; n++) await alice.sendText("bob", `during ${n}`);
  const bobAcks = await Promise.all(bobSends);
  for (let n = 0; n < 2; n++) await alice.sendText("bob", `after ${n}`);
  await waitFor(() => bobSeen.messages.length === base + 8, "every message of alice's after the reconnect");
  await waitFor(() => aliceSeen.from("bob").length === baseAlice + 3, "bob's queued messages");
  const got = bobSeen.messages.slice(base);
  assert.deepEqual(got.map((m) => m.text), ["before 0", "before 1", "before 2", "during 0", "during 1", "during 2", "after 0", "after 1"]);
  const seqs = got.map((m) => m.seq);
  assert.deepEqual(new Set(seqs).size, seqs.length);
  assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), "in order");
  assert.deepEqual(aliceSeen.from("bob").slice(baseAlice).map((m) => m.text), ["during 0", "during 1", "during 2"]);
  assert.deepEqual(new Set(bobAcks.map((a) => a.clientMsgId)).size, 3);
  assert.equal(bob.state, "connected");
  assert.equal(bob.dumpLog().filter((e) => e.event === "logged_in").at(-1)!.url, WS0);
  assert.deepEqual(bobSeen.states.slice(-3), ["disconnected", "connecting", "connected"]);
  await new Promise((resolve) => setTimeout(resolve, 500));
  assert.equal(bobSeen.messages.length, base + 8, "nothing arrives twice later");
  assert.ok(FAST.raceInterval! > 0);
});
