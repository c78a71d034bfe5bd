import { fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { ImError } from "./errors.js";
import { type Frame, FrameSchema } from "./gen/imcloud_pb.js";
import type { Encoding } from "./options.js";

export const PROTOCOL_VERSION = 1;

/** The WebSocket subprotocol of each encoding (docs/protocol.md). */
export const SUBPROTOCOLS: Record<Encoding, string> = {
  proto: "imcloud.v1.proto",
  json: "imcloud.v1.json",
};

export const CONTENT_TYPES: Record<Encoding, string> = {
  proto: "application/x-protobuf",
  json: "application/json",
};

export function encodeFrame(frame: Frame, encoding: Encoding): Uint8Array | string {
  return encoding === "proto" ? toBinary(FrameSchema, frame) : toJsonString(FrameSchema, frame);
}

/** Raises ImError `garbage_frame` for bytes that are not a Frame in this encoding. */
export function decodeFrame(data: ArrayBuffer | Uint8Array | string, encoding: Encoding): Frame {
  try {
    if (encoding === "proto") {
      if (typeof data === "string") throw new Error("a text message on a binary connection");
      return fromBinary(FrameSchema, data instanceof Uint8Array ? data : new Uint8Array(data));
    }
    const text = typeof data === "string" ? data : new TextDecoder().decode(data);
    // A newer server may add fields: ignore what this SDK does not know.
    return fromJsonString(FrameSchema, text, { ignoreUnknownFields: true });
  } catch (error) {
    throw new ImError("garbage_frame", `not a Frame: ${(error as Error).message}`);
  }
}
