// The escapes nginx and Apache write into quoted access-log fields, undone so the record shows
// what the client sent. nginx (escape=default) writes `"`, `\` and every byte below 0x20 or
// above 0x7e as \xHH; Apache mod_log_config writes \" and \\, whitespace as \n \t \r (and
// \b \f \v), and other non-printable bytes as \xhh. The decoded bytes are read as UTF-8, an
// invalid sequence becoming U+FFFD: the record holds valid text and the exact bytes stay in the
// raw line. A backslash before anything else is kept as it is (neither server writes one).

const lenient = new TextDecoder("utf-8");

const CONTROL: Readonly<Record<string, number>> = {
  n: 0x0a,
  t: 0x09,
  r: 0x0d,
  b: 0x08,
  f: 0x0c,
  v: 0x0b,
  '"': 0x22,
  "\\": 0x5c,
};

function hex(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** Decodes access-log escapes; text without a backslash is returned as it is (no work). */
export function decodeLogEscapes(text: string): string {
  if (!text.includes("\\")) return text;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  let run = 0;
  const flush = (end: number) => {
    if (end > run) for (const b of encoder.encode(text.slice(run, end))) bytes.push(b);
  };
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== 0x5c || i + 1 >= text.length) continue;
    const next = text[i + 1] as string;
    let byte = -1;
    let width = 2;
    if (next === "x" && i + 3 < text.length) {
      const hi = hex(text.charCodeAt(i + 2));
      const lo = hex(text.charCodeAt(i + 3));
      if (hi >= 0 && lo >= 0) {
        byte = hi * 16 + lo;
        width = 4;
      }
    } else {
      byte = CONTROL[next] ?? -1;
    }
    if (byte < 0) continue;
    flush(i);
    bytes.push(byte);
    i += width - 1;
    run = i + 1;
  }
  flush(text.length);
  return lenient.decode(Uint8Array.from(bytes));
}

/**
 * Decodes HAProxy's `#HH` escapes (it writes `"`, `#` and non-printable bytes of a logged
 * request or header that way); text without a `#` is returned as it is.
 */
export function decodeHashEscapes(text: string): string {
  if (!text.includes("#")) return text;
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  let run = 0;
  for (let i = 0; i + 2 < text.length; i++) {
    if (text.charCodeAt(i) !== 0x23) continue;
    const hi = hex(text.charCodeAt(i + 1));
    const lo = hex(text.charCodeAt(i + 2));
    if (hi < 0 || lo < 0) continue;
    for (const b of encoder.encode(text.slice(run, i))) bytes.push(b);
    bytes.push(hi * 16 + lo);
    i += 2;
    run = i + 1;
  }
  for (const b of encoder.encode(text.slice(run))) bytes.push(b);
  return lenient.decode(Uint8Array.from(bytes));
}
