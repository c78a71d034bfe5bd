import assert from "node:assert/strict";
import { test } from "node:test";
import { DEFAULTS } from "../../src/options.js";
import { EndpointRanking } from "../../src/ranking.js";
import { FakeClock } from "../fake-clock.js";

const A = "ws://a/ws";
const B = "ws://b/ws";
const C = "ws://c/ws";

test("unknown endpoints keep their given order, duplicates dropped", () => {
  const ranking = new EndpointRanking(DEFAULTS, new FakeClock());
  assert.deepEqual(ranking.order("n", [A, B, A, C]), [A, B, C]);
});

test("ranks by fewest failures, then oldest last failure, then newest success", () => {
  const clock = new FakeClock();
  const ranking = new EndpointRanking(DEFAULTS, clock);
  ranking.record("n", A, false);
  clock.advance(1000);
  ranking.record("n", B, false);
  ranking.record("n", C, true);
  assert.deepEqual(ranking.order("n", [A, B, C]), [C, A, B]);
  clock.advance(1000);
  ranking.record("n", A, true);
  ranking.record("n", B, true);
  // A and B: one failure each, A's is older; C none.
  assert.deepEqual(ranking.order("n", [B, A, C]), [C, A, B]);
});

test("three failures in the last eight ban for 6 min, +6 min per further failure, at most 30 min", () => {
  const clock = new FakeClock();
  const ranking = new EndpointRanking(DEFAULTS, clock);
  for (let i = 0; i < 3; i++) ranking.record("n", A, false);
  assert.equal(ranking.score("n", A).banned, true);
  assert.deepEqual(ranking.order("n", [A, B]), [B, A]);
  clock.advance(359_000);
  assert.equal(ranking.score("n", A).banned, true);
  clock.advance(2_000);
  assert.equal(ranking.score("n", A).banned, false);
  ranking.record("n", A, false); // four failures: 12 minutes
  clock.advance(11 * 60_000);
  assert.equal(ranking.score("n", A).banned, true);
  clock.advance(2 * 60_000);
  assert.equal(ranking.score("n", A).banned, false);
  for (let i = 0; i < 4; i++) ranking.record("n", A, false); // eight failures: capped at 30 minutes
  clock.advance(29 * 60_000);
  assert.equal(ranking.score("n", A).banned, true);
  clock.advance(2 * 60_000);
  assert.equal(ranking.score("n", A).banned, false);
});

test("only the last eight results count", () => {
  const ranking = new EndpointRanking(DEFAULTS, new FakeClock());
  for (let i = 0; i < 3; i++) ranking.record("n", A, false);
  for (let i = 0; i < 6; i++) ranking.record("n", A, true);
  assert.deepEqual(ranking.score("n", A).failures, 2);
  assert.equal(ranking.score("n", A).banned, false);
});

test("when every endpoint is banned they are all still tried", () => {
  const ranking = new EndpointRanking(DEFAULTS, new FakeClock());
  for (const url of [A, B]) for (let i = 0; i < 3; i++) ranking.record("n", url, false);
  assert.deepEqual(ranking.order("n", [A, B]).sort(), [A, B]);
});

test("results are per network", () => {
  const ranking = new EndpointRanking(DEFAULTS, new FakeClock());
  for (let i = 0; i < 3; i++) ranking.record("wifi", A, false);
  assert.deepEqual(ranking.order("wifi", [A, B]), [B, A]);
  assert.deepEqual(ranking.order("cellular", [A, B]), [A, B]);
});

test("results older than a day are forgotten", () => {
  const clock = new FakeClock();
  const ranking = new EndpointRanking(DEFAULTS, clock);
  ranking.record("n", A, false);
  clock.advance(25 * 3600 * 1000);
  assert.equal(ranking.score("n", A).failures, 0);
});
