import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { decodeFrame, encodeFrame } from "../../src/codec.js";
import { ImError } from "../../src/errors.js";
import { Emitter } from "../../src/events.js";
import * as pb from "../../src/gen/imcloud_pb.js";
import { LogRing } from "../../src/log.js";
import { FakeClock } from "../fake-clock.js";

test("the log keeps the last entries, oldest first, JSON-serialisable", () => {
  const clock = new FakeClock();
  const log = new LogRing(3, clock);
  for (let i = 0; i < 5; i++) {
    log.add("info", `e${i}`, { seq: BigInt(i), error: new ImError("timeout", "late") });
    clock.advance(1);
  }
  const dumped = log.dump();
  assert.deepEqual(dumped.map((e) => e.event), ["e2", "e3", "e4"]);
  assert.equal(dumped[0]!.seq, "2");
  assert.equal(dumped[0]!.error, "ImError: late");
  assert.equal(JSON.parse(JSON.stringify(dumped)).length, 3);
});

test("a listener that throws does not stop the others", () => {
  const emitter = new Emitter<{ x: (n: number) => void }>();
  const got: number[] = [];
  emitter.on("x", () => {
    throw new Error("app bug");
  });
  const off = emitter.on("x", (n) => got.push(n));
  assert.equal(emitter.emit("x", 1).length, 1);
  off();
  emitter.emit("x", 2);
  assert.deepEqual(got, [1]);
});

test("frames round-trip in both encodings; JSON is the canonical mapping the gateway speaks", () => {
  const frame = create(pb.FrameSchema, {
    requestId: 7n,
    body: {
      case: "send",
      value: create(pb.SendMessageSchema, {
        conversationType: pb.ConversationType.P2P,
        target: "bob",
        type: pb.MessageType.TEXT,
        clientMsgId: "c-1",
        text: "hi",
      }),
    },
  });
  for (const encoding of ["proto", "json"] as const) {
    const back = decodeFrame(encodeFrame(frame, encoding), encoding);
    assert.equal(back.requestId, 7n);
    assert.equal(back.body.case, "send");
  }
  assert.deepEqual(JSON.parse(encodeFrame(frame, "json") as string), {
    requestId: "7",
    send: { conversationType: "CONVERSATION_TYPE_P2P", target: "bob", type: "MESSAGE_TYPE_TEXT", clientMsgId: "c-1", text: "hi" },
  });
});

test("garbage is an ImError, not a crash", () => {
  assert.throws(() => decodeFrame(new Uint8Array([0xff, 0xff, 0xff]), "proto"), (e: ImError) => e.code === "garbage_frame");
  assert.throws(() => decodeFrame("[1]", "json"), (e: ImError) => e.code === "garbage_frame");
  assert.throws(() => decodeFrame("text", "proto"), (e: ImError) => e.code === "garbage_frame");
});
