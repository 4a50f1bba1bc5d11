// The Kafka compression codecs auditready uses, registered on a kafkajs module object: the
// sidecar's producer and the verifier's consumer register the same ones, so whatever the
// sidecar writes the verifier reads. kafkajs ships only gzip; zstd comes from Node's own zlib
// (Node >= 22.15), so no native add-on is needed. Both run on libuv's thread pool.
//
// zstd is the sidecar's default: on sealed records (4 MiB batches, measured in this repo) it
// compresses ~10.7x in ~2.5 µs per record and decompresses in ~2.6 µs, where gzip level 1
// compresses ~8.2x in ~5.5 µs and gunzips in ~4.1 µs. Every Kafka client family reads zstd
// (Java >= 2.1, librdkafka, Go, Python); a kafkajs consumer needs a zstd codec registered
// (this module, or a package that provides one), hence `compression: gzip` for such readers.
import { promisify } from "node:util";
import { constants, gzip, unzip, zstdCompress, zstdDecompress } from "node:zlib";
import type { CompressionCodecs, CompressionTypes } from "kafkajs";

export const COMPRESSIONS = ["none", "gzip", "zstd"] as const;
export type Compression = (typeof COMPRESSIONS)[number];

/** `value` as a compression, or an error naming `what` and the choices. */
export function compressionNamed(value: string, what: string): Compression {
  const c = COMPRESSIONS.find((x) => x === value);
  if (c === undefined) throw new Error(`${what} must be ${COMPRESSIONS.join(", ")}, not ${value}`);
  return c;
}

/** The part of kafkajs' exports the codecs live in. */
interface KafkajsCodecs {
  CompressionCodecs: typeof CompressionCodecs;
  CompressionTypes: typeof CompressionTypes;
}

// Output in 256 KiB chunks instead of zlib's 16 KiB: a 4 MiB batch (~400-600 KiB compressed)
// then costs the main thread a few callbacks instead of ~40 (measured for gzip: ~1.3 instead
// of ~3-4 ms per batch).
const CHUNK = 262_144;

const gzipAsync = promisify(gzip);
const unzipAsync = promisify(unzip);
const zstdAsync = promisify(zstdCompress);
const unzstdAsync = promisify(zstdDecompress);

// zstd level 1: the fastest of the positive levels and, on these records, also smaller than
// its default level 3 (measured 10.7x at 2.5 µs against 9.0x at 4.9 µs per record).
const ZSTD_LEVEL = 1;

/** kafkajs' own gzip codec is level 6; level 1 costs a fraction of the CPU, read the same. */
const gzipCodec = () => ({
  compress: (encoder: { buffer: Buffer }) =>
    gzipAsync(encoder.buffer, { level: constants.Z_BEST_SPEED, chunkSize: CHUNK }),
  decompress: (buffer: Buffer) => unzipAsync(buffer, { chunkSize: CHUNK }),
});

const zstdCodec = () => ({
  compress: (encoder: { buffer: Buffer }) =>
    zstdAsync(encoder.buffer, {
      chunkSize: CHUNK,
      params: { [constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL },
    }),
  decompress: (buffer: Buffer) => unzstdAsync(buffer, { chunkSize: CHUNK }),
});

/**
 * Registers the codecs on kafkajs' CommonJS exports (the object `require("kafkajs")` returns:
 * CompressionCodecs is not among the names an ESM import of kafkajs can see).
 */
export function registerCodecs(kafkajs: KafkajsCodecs): void {
  const { CompressionCodecs, CompressionTypes } = kafkajs;
  CompressionCodecs[CompressionTypes.GZIP] = gzipCodec;
  CompressionCodecs[CompressionTypes.ZSTD] = zstdCodec;
}

/** kafkajs' code for a configured compression. */
export function compressionType(kafkajs: KafkajsCodecs, c: Compression): number {
  const t = kafkajs.CompressionTypes;
  return c === "zstd" ? t.ZSTD : c === "gzip" ? t.GZIP : t.None;
}
