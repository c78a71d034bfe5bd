/**
 * The TypeScript SDK through tests/weaknet's fault proxy (started by tests/sdk/typescript/test_node.py):
 * a link that keeps going down, and a NAT that silently forgets idle connections.
 */
import assert from "node:assert/strict";
import { after, test } from "node:test";
import { loggedIn, stack, waitFor } from "./helpers.js";

const [WS0] = stack.ws as [string];
const open: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const c of open) await c.close();
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

test("a flapping link (3 s up, 1 s down): every message both ways arrives once, in order", { timeout: 90_000 }, async () => {
  assert.ok(stack.flapWs, "IMCLOUD_FLAP_WS is set");
  const [alice, aliceSeen] = await loggedIn("alice", [stack.flapWs], { connectTimeout: 5 });
  const [bob, bobSeen] = await loggedIn("bob", [WS0]);
  open.push(alice, bob);
  const sends: Array<Promise<unknown>> = [];
  // About 9 s of traffic: at least two outages of alice's link on the way.
  for (let n = 0; n < 30; n++) {
    sends.push(alice.sendText("bob", `a${n}`));
    if (n % 3 === 0) sends.push(bob.sendText("alice", `b${n / 3}`));
    await pause(300);
  }
  await Promise.all(sends);
  await waitFor(() => bobSeen.from("alice").length >= 30, "alice's 30 messages at bob", 60_000);
  await waitFor(() => aliceSeen.from("bob").length >= 10, "bob's 10 messages at alice", 60_000);
  await pause(500);
  assert.deepEqual(bobSeen.from("alice").map((m) => m.text), Array.from({ length: 30 }, (_, n) => `a${n}`));
  assert.deepEqual(aliceSeen.from("bob").map((m) => m.text), Array.from({ length: 10 }, (_, n) => `b${n}`));
  for (const seen of [aliceSeen, bobSeen]) {
    const seqs = seen.messages.map((m) => m.seq);
    assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), `in order: ${seqs}`);
  }
  assert.ok(alice.stats.logins >= 3, `alice's link went down and came back (${alice.stats.logins} logins)`);
});

test("a NAT that drops idle connections after 4 s: the heartbeat probes, fails twice, settles under it", { timeout: 90_000 }, async () => {
  assert.ok(stack.natWs, "IMCLOUD_NAT_WS is set");
  const [alice, aliceSeen] = await loggedIn("alice", [stack.natWs], {
    heartbeatMin: 1,
    heartbeatStep: 2,
    heartbeatMax: 9,
    heartbeatProbeAfter: 1,
    heartbeatSuccessesPerStep: 2,
    pongTimeout: 1,
  }, "node-alice-nat");
  const [bob] = await loggedIn("bob", [WS0], {}, "node-bob-nat");
  open.push(alice, bob);
  // Pings at 1 s, then probing 1 s, 3 s; 5 s outlives the NAT twice: settle at 3 s.
  await waitFor(() => alice.heartbeatSnapshot().phase === "settled", "the heartbeat to settle", 60_000);
  assert.deepEqual([alice.heartbeatSnapshot().interval, alice.heartbeatSnapshot().lastGood], [3, 3]);
  const log = () => alice.dumpLog();
  assert.ok(log().filter((e) => e.event === "pong_timeout").length >= 2);
  // The second failure closed the link: wait for the login after it.
  const lastFailure = () => Math.max(...log().filter((e) => e.event === "pong_timeout").map((e) => e.ts));
  await waitFor(() => log().some((e) => e.event === "logged_in" && e.ts >= lastFailure()), "the login after settling", 30_000);
  const loginsBefore = alice.stats.logins;
  // Settled under the NAT's timeout, the link now lives: pings keep it open, and a message sent
  // after longer than the NAT's idle timeout arrives on it.
  await pause(6000);
  const before = aliceSeen.from("bob").length;
  await bob.sendText("alice", "through the NAT");
  await waitFor(() => aliceSeen.from("bob").length === before + 1, "bob's message", 20_000);
  assert.equal(aliceSeen.from("bob").at(-1)!.text, "through the NAT");
  assert.equal(alice.stats.logins, loginsBefore, "no reconnect once settled");
  assert.deepEqual(alice.heartbeatSnapshot().phase, "settled");
});
