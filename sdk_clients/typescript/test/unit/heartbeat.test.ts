import assert from "node:assert/strict";
import { test } from "node:test";
import { SmartHeartbeat } from "../../src/heartbeat.js";
import { DEFAULTS } from "../../src/options.js";
import { FakeClock } from "../fake-clock.js";

function times(n: number, fn: () => void): void {
  for (let i = 0; i < n; i++) fn();
}

test("starts at the minimum and probes +60 s after every 5 successes once 3 succeeded", () => {
  const hb = new SmartHeartbeat(DEFAULTS, new FakeClock());
  assert.equal(hb.interval(), 45);
  times(3, () => hb.success());
  assert.equal(hb.snapshot().phase, "probing");
  times(4, () => hb.success());
  assert.equal(hb.interval(), 45);
  hb.success();
  assert.equal(hb.interval(), 105);
  times(5, () => hb.success());
  assert.equal(hb.interval(), 165);
});

test("climbs to the maximum and settles there", () => {
  const hb = new SmartHeartbeat(DEFAULTS, new FakeClock());
  times(3 + 5 * 20, () => hb.success());
  assert.equal(hb.interval(), 570);
  assert.equal(hb.snapshot().phase, "settled");
});

test("two failures while probing settle at the last interval that succeeded", () => {
  const hb = new SmartHeartbeat(DEFAULTS, new FakeClock());
  times(3 + 5 + 5, () => hb.success()); // now probing 165, 105 succeeded
  assert.equal(hb.interval(), 165);
  hb.failure();
  assert.equal(hb.snapshot().phase, "probing");
  hb.failure();
  assert.deepEqual([hb.interval(), hb.snapshot().phase], [105, "settled"]);
});

test("a success between failures resets the count", () => {
  const hb = new SmartHeartbeat(DEFAULTS, new FakeClock());
  times(8, () => hb.success());
  hb.failure();
  hb.success();
  hb.failure();
  assert.equal(hb.snapshot().phase, "probing");
});

test("two failures when settled go back to the minimum and probe again", () => {
  const hb = new SmartHeartbeat(DEFAULTS, new FakeClock());
  times(13, () => hb.success());
  hb.failure();
  hb.failure();
  assert.equal(hb.snapshot().phase, "settled");
  hb.failure();
  hb.failure();
  assert.deepEqual([hb.interval(), hb.snapshot().phase], [45, "warming"]);
  times(3 + 5, () => hb.success());
  assert.equal(hb.interval(), 105);
});

test("a settled value is probed again after seven days", () => {
  const clock = new FakeClock();
  const hb = new SmartHeartbeat(DEFAULTS, clock);
  times(13, () => hb.success());
  hb.failure();
  hb.failure();
  clock.advance(6 * 24 * 3600 * 1000);
  assert.equal(hb.interval(), 105);
  assert.equal(hb.snapshot().phase, "settled");
  clock.advance(2 * 24 * 3600 * 1000);
  assert.equal(hb.interval(), 105);
  assert.equal(hb.snapshot().phase, "probing");
  times(5, () => hb.success());
  assert.equal(hb.interval(), 165);
});

test("the learned interval is kept per network, at most 20 networks", () => {
  const hb = new SmartHeartbeat(DEFAULTS, new FakeClock());
  hb.setNetwork("wifi-home");
  times(8, () => hb.success());
  assert.equal(hb.interval(), 105);
  hb.setNetwork("cellular");
  assert.equal(hb.interval(), 45);
  hb.setNetwork("wifi-home");
  assert.equal(hb.interval(), 105);
  for (let i = 0; i < 20; i++) hb.setNetwork(`net-${i}`);
  hb.setNetwork("wifi-home");
  assert.equal(hb.interval(), 45, "the least recently used network was forgotten");
});
