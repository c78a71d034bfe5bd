import assert from "node:assert/strict";
import { test } from "node:test";
import { ConversationOrder } from "../../src/ordering.js";

const m = (seq: number) => ({ seq: BigInt(seq) });
const seqs = (list: { seq: bigint }[]) => list.map((x) => Number(x.seq));

test("a new conversation starts at the first message; next seqs pass, duplicates are dropped", () => {
  const order = new ConversationOrder<{ seq: bigint }>();
  assert.deepEqual(seqs(order.accept("k", m(5)).deliver), [5]);
  assert.deepEqual(seqs(order.accept("k", m(6)).deliver), [6]);
  assert.deepEqual(order.accept("k", m(6)), { deliver: [] });
  assert.deepEqual(order.accept("k", m(3)), { deliver: [] });
});

test("a later seq is held and reports the gap; filling it hands everything over in order", () => {
  const order = new ConversationOrder<{ seq: bigint }>();
  order.accept("k", m(1));
  const held = order.accept("k", m(4));
  assert.deepEqual(held, { deliver: [], gapAfter: 1n });
  assert.deepEqual(order.accept("k", m(4)), { deliver: [] }, "a second copy of a held message is dropped");
  const partly = order.accept("k", m(2));
  assert.deepEqual([seqs(partly.deliver), partly.gapAfter], [[2], 2n]);
  const filled = order.accept("k", m(3));
  assert.deepEqual([seqs(filled.deliver), filled.gapAfter], [[3, 4], undefined]);
});

test("the app's own acknowledged seq counts for order but is not handed over", () => {
  const order = new ConversationOrder<{ seq: bigint }>();
  order.accept("k", m(1));
  assert.deepEqual(order.own("k", 2n), { deliver: [] });
  assert.deepEqual(seqs(order.accept("k", m(3)).deliver), [3]);
  assert.deepEqual(order.accept("k", m(2)), { deliver: [] });
  // An own seq beyond a gap is a gap too; the synced copy of it is then not handed over.
  assert.equal(order.own("k", 5n).gapAfter, 3n);
  assert.deepEqual(seqs(order.accept("k", m(4)).deliver), [4]);
  assert.deepEqual(order.accept("k", m(5)), { deliver: [] });
  assert.equal(order.highest("k"), 5n);
});

test("a conversation first seen in the conversation list starts at its last seq", () => {
  const order = new ConversationOrder<{ seq: bigint }>();
  assert.equal(order.baseline("k", 7n), true);
  assert.equal(order.baseline("k", 9n), false);
  assert.deepEqual(order.accept("k", m(7)), { deliver: [] });
  assert.deepEqual(seqs(order.accept("k", m(8)).deliver), [8]);
});

test("conversations are independent", () => {
  const order = new ConversationOrder<{ seq: bigint }>();
  order.accept("a", m(1));
  assert.deepEqual(seqs(order.accept("b", m(1)).deliver), [1]);
  assert.deepEqual(order.keys().sort(), ["a", "b"]);
});

test("a gap sync cannot fill (retention) hands the held messages over from the first held", () => {
  const order = new ConversationOrder<{ seq: bigint }>();
  order.accept("k", m(1));
  order.accept("k", m(5));
  order.accept("k", m(4));
  assert.deepEqual(seqs(order.skipGap("k")), [4, 5]);
  assert.deepEqual(order.skipGap("k"), []);
  assert.deepEqual(seqs(order.accept("k", m(6)).deliver), [6]);
});
