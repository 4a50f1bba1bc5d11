// CRC-32C (Castagnoli), the checksum of a Kafka record batch, eight bytes per step ("slice by
// 8": eight 256-entry tables) instead of kafkajs' one byte per step. Same results as kafkajs'
// crc32C for every input (property-tested against it); ~4x faster on large buffers.

const POLY = 0x82f63b78; // reflected Castagnoli polynomial

const T = new Int32Array(8 * 256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
  T[n] = c;
}
for (let n = 0; n < 256; n++) {
  let c = T[n] as number;
  for (let t = 1; t < 8; t++) {
    c = (T[c & 0xff] as number) ^ (c >>> 8);
    T[t * 256 + n] = c;
  }
}

/** CRC-32C of `buf` as an unsigned 32-bit integer. */
export function crc32c(buf: Uint8Array): number {
  let crc = -1;
  let i = 0;
  const len = buf.length;
  const end8 = len - (len & 7);
  while (i < end8) {
    crc ^=
      (buf[i] as number) |
      ((buf[i + 1] as number) << 8) |
      ((buf[i + 2] as number) << 16) |
      ((buf[i + 3] as number) << 24);
    crc =
      (T[1792 + (crc & 0xff)] as number) ^
      (T[1536 + ((crc >>> 8) & 0xff)] as number) ^
      (T[1280 + ((crc >>> 16) & 0xff)] as number) ^
      (T[1024 + (crc >>> 24)] as number) ^
      (T[768 + (buf[i + 4] as number)] as number) ^
      (T[512 + (buf[i + 5] as number)] as number) ^
      (T[256 + (buf[i + 6] as number)] as number) ^
      (T[buf[i + 7] as number] as number);
    i += 8;
  }
  while (i < len) crc = (T[(crc ^ (buf[i++] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ -1) >>> 0;
}
