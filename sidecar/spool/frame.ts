// The spool's on-disk frame: one batch per frame, `[length u32][crc32 u32][payload]`, payload
// `[count u32]` then per message `[keyLen u32][key][valueLen u32][value]`. The CRC makes a torn
// or corrupt frame detectable, so recovery after a crash cuts at the last whole frame.
import { crc32 } from "node:zlib";
import { PackedBatch, packed } from "../sink/batch.ts";
import type { SinkBatch, SinkMessage } from "../sink/sink.ts";

export const FRAME_HEADER = 8;

export function encodeFrame(input: SinkBatch): Buffer {
  const batch = packed(input);
  const keys = batch.runKeys.map((k) => Buffer.from(k));
  let size = 4;
  let from = 0;
  for (let r = 0; r < keys.length; r++) {
    const to = batch.runEnds[r] as number;
    size += (to - from) * (8 + (keys[r] as Buffer).length);
    from = to;
  }
  for (let i = 0; i < batch.count; i++) size += batch.valueLength(i);
  const out = Buffer.allocUnsafe(FRAME_HEADER + size);
  let at = FRAME_HEADER;
  at = out.writeUInt32BE(batch.count, at);
  let i = 0;
  for (let r = 0; r < keys.length; r++) {
    const key = keys[r] as Buffer;
    for (const to = batch.runEnds[r] as number; i < to; i++) {
      at = out.writeUInt32BE(key.length, at);
      at += key.copy(out, at);
      at = out.writeUInt32BE(batch.valueLength(i), at);
      at += batch.copyValue(i, out, at);
    }
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
  return decodeFramePacked(frame)?.messages();
}

/** decodeFrame as a packed batch over the frame's buffer (values not copied). */
export function decodeFramePacked(frame: Buffer): PackedBatch | undefined {
  if (frame.length < FRAME_HEADER + 4) return undefined;
  const size = frame.readUInt32BE(0);
  if (frame.length !== FRAME_HEADER + size) return undefined;
  const payload = frame.subarray(FRAME_HEADER);
  if (crc32(payload) !== frame.readUInt32BE(4)) return undefined;
  const count = payload.readUInt32BE(0);
  if (count > (payload.length - 4) / 8) return undefined;
  const spans = new Uint32Array(2 * count);
  const runKeys: string[] = [];
  const runEnds: number[] = [];
  let prevKey: Buffer | undefined;
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > payload.length) return undefined;
    const keyLen = payload.readUInt32BE(at);
    at += 4;
    if (at + keyLen + 4 > payload.length) return undefined;
    // Same key bytes as the message before: the run goes on.
    if (
      prevKey !== undefined &&
      payload.compare(prevKey, 0, prevKey.length, at, at + keyLen) === 0
    ) {
      runEnds[runEnds.length - 1] = i + 1;
    } else {
      prevKey = payload.subarray(at, at + keyLen);
      runKeys.push(payload.toString("utf8", at, at + keyLen));
      runEnds.push(i + 1);
    }
    at += keyLen;
    const valueLen = payload.readUInt32BE(at);
    at += 4;
    if (at + valueLen > payload.length) return undefined;
    spans[2 * i] = FRAME_HEADER + at;
    spans[2 * i + 1] = FRAME_HEADER + at + valueLen;
    at += valueLen;
  }
  return at === payload.length ? new PackedBatch(frame, spans, runKeys, runEnds) : undefined;
}
