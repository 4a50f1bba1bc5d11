// The spool's on-disk frame: one batch per frame, `[length u32][crc32 u32][payload]`, payload
// `[count u32]` then per message `[keyLen u32][key][valueLen u32][value]`. The CRC makes a torn
// or corrupt frame detectable, so recovery after a crash cuts at the last whole frame.
import { crc32 } from "node:zlib";
import type { SinkMessage } from "../sink/sink.ts";

export const FRAME_HEADER = 8;

export function encodeFrame(batch: readonly SinkMessage[]): Buffer {
  let size = 4;
  const keys = batch.map((m) => Buffer.from(m.key));
  for (let i = 0; i < batch.length; i++) {
    size += 8 + (keys[i] as Buffer).length + (batch[i] as SinkMessage).value.length;
  }
  const out = Buffer.allocUnsafe(FRAME_HEADER + size);
  let at = FRAME_HEADER;
  at = out.writeUInt32BE(batch.length, at);
  for (let i = 0; i < batch.length; i++) {
    const key = keys[i] as Buffer;
    const value = (batch[i] as SinkMessage).value;
    at = out.writeUInt32BE(key.length, at);
    at += key.copy(out, at);
    at = out.writeUInt32BE(value.length, at);
    at += value.copy(out, at);
  }
  out.writeUInt32BE(size, 0);
  out.writeUInt32BE(crc32(out.subarray(FRAME_HEADER)), 4);
  return out;
}

/** Payload length from a frame header, or undefined if the header is short. */
export function frameLength(header: Buffer): number | undefined {
  return header.length < FRAME_HEADER ? undefined : header.readUInt32BE(0);
}

/** Decodes a whole frame (header included); undefined when torn or corrupt. */
export function decodeFrame(frame: Buffer): SinkMessage[] | undefined {
  if (frame.length < FRAME_HEADER + 4) return undefined;
  const size = frame.readUInt32BE(0);
  if (frame.length !== FRAME_HEADER + size) return undefined;
  const payload = frame.subarray(FRAME_HEADER);
  if (crc32(payload) !== frame.readUInt32BE(4)) return undefined;
  const count = payload.readUInt32BE(0);
  const out: SinkMessage[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    const keyLen = payload.readUInt32BE(at);
    at += 4;
    const key = payload.toString("utf8", at, at + keyLen);
    at += keyLen;
    const valueLen = payload.readUInt32BE(at);
    at += 4;
    out.push({ key, value: payload.subarray(at, at + valueLen) });
    at += valueLen;
  }
  return at === payload.length ? out : undefined;
}
