import assert from "node:assert/strict";
import { test } from "node:test";
import { ReconnectBackoff } from "../../src/backoff.js";
import { DEFAULTS } from "../../src/options.js";
import { FakeClock } from "../fake-clock.js";

function ladder(clock: FakeClock, background = false, count = 14): number[] {
  const backoff = new ReconnectBackoff(DEFAULTS, clock);
  const delays: number[] = [];
  for (let i = 0; i < count; i++) {
    const delay = backoff.nextDelay(background);
    delays.push(delay);
    clock.advance(delay * 1000);
  }
  return delays;
}

test("retries every 0.6 s in the first 10 s of an outage, then 2, 4, 8, 16, 30 and stays at 30", () => {
  const clock = new FakeClock();
  clock.randomValue = 0.5; // the middle of the jitter range: no jitter
  const delays = ladder(clock, false, 24);
  const fast = delays.filter((d) => d < 1);
  assert.equal(fast.length, 17, `fast retries: ${delays}`);
  assert.ok(delays.slice(0, fast.length).every((d) => d === 0.6));
  assert.deepEqual(delays.slice(fast.length, fast.length + 7), [2, 4, 8, 16, 30, 30, 30]);
});

test("jitter stays within +-20% and never lets a fast retry exceed one second", () => {
  for (const r of [0, 0.999]) {
    const clock = new FakeClock();
    clock.randomValue = r;
    const delays = ladder(clock, false, 20);
    const slow = delays.filter((d) => d > 1);
    assert.ok(delays.every((d) => d > 0));
    assert.ok(delays.filter((d) => d < 1).every((d) => d >= 0.48 - 1e-9 && d <= 0.72 + 1e-9));
    assert.ok(slow.every((d) => d >= 2 * 0.8 - 1e-9 && d <= 30 * 1.2 + 1e-9), String(slow));
  }
});

test("in the background the ladder climbs to 300 s and has no retry cap", () => {
  const clock = new FakeClock();
  const delays = ladder(clock, true, 40);
  const slow = delays.filter((d) => d >= 1);
  assert.deepEqual(slow.slice(0, 10), [2, 4, 8, 16, 30, 60, 120, 240, 300, 300]);
  assert.equal(delays.at(-1), 300);
});

test("a login resets the ladder: the next outage starts fast again", () => {
  const clock = new FakeClock();
  const backoff = new ReconnectBackoff(DEFAULTS, clock);
  for (let i = 0; i < 20; i++) clock.advance(backoff.nextDelay() * 1000);
  assert.ok(backoff.nextDelay() > 1);
  backoff.reset();
  assert.ok(backoff.nextDelay() < 1);
  assert.equal(backoff.outageSeconds(), 0);
});
