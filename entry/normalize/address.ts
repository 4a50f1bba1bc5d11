// Client addresses as servers write them, turned into a bare IP: `10.0.0.12:59292` loses its
// port, `[fd00::1]:443` its brackets and port, `::ffff:10.0.0.1` becomes `10.0.0.1`, IPv6 is
// lower-cased. A forwarded chain (`192.168.1.100, 10.42.0.1`, X-Forwarded-For order: client
// first, each proxy appends the address it saw) is resolved the way nginx's real_ip module does:
// from the right, skipping the proxies the policy trusts (by CIDR) or a fixed number of hops.
// The whole chain is kept beside the chosen address. Anything that is not an address is said so.
import { BlockList, isIP } from "node:net";
import type { TrustedProxies } from "./options.ts";

const V4_PORT = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/;
const BRACKETED = /^\[([^\]]+)\](?::\d{1,5})?$/;
const MAPPED_DOTTED = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/;
const MAPPED_HEX = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/;

/**
 * The length of a dotted-quad IPv4 address at the start of `t` (no leading zeros, each part at
 * most 255), or 0: the common case, checked by hand, without a regex or isIP per line.
 */
function ipv4Length(t: string): number {
  let i = 0;
  for (let part = 0; part < 4; part++) {
    if (part > 0) {
      if (t.charCodeAt(i) !== 46) return 0; // "."
      i++;
    }
    const start = i;
    let n = 0;
    while (i < t.length && i - start < 4) {
      const c = t.charCodeAt(i);
      if (c < 48 || c > 57) break;
      n = n * 10 + c - 48;
      i++;
    }
    const len = i - start;
    if (len === 0 || len > 3 || n > 255 || (len > 1 && t.charCodeAt(start) === 48)) return 0;
  }
  return i;
}

/** The bare IP in an address as logged, or undefined when it is not one. */
export function parseAddress(text: string): string | undefined {
  // Fast path: a plain IPv4 address, or one with a port.
  const v4 = ipv4Length(text);
  if (v4 > 0) {
    if (v4 === text.length) return text;
    if (text.charCodeAt(v4) === 58 && /^\d{1,5}$/.test(text.slice(v4 + 1)))
      return text.slice(0, v4);
  }
  let t = text.trim();
  const bracketed = BRACKETED.exec(t);
  if (bracketed) t = bracketed[1] as string;
  else {
    const v4 = V4_PORT.exec(t);
    if (v4) t = v4[1] as string;
  }
  const kind = isIP(t);
  if (kind === 4) return t;
  if (kind !== 6) return undefined;
  const lower = t.toLowerCase();
  const dotted = MAPPED_DOTTED.exec(lower);
  if (dotted) return dotted[1];
  const hex = MAPPED_HEX.exec(lower);
  if (hex) {
    const hi = Number.parseInt(hex[1] as string, 16);
    const lo = Number.parseInt(hex[2] as string, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return lower;
}

/** A policy's trusted proxies, compiled once. */
export type ProxyTrust =
  | { kind: "none" }
  | { kind: "hops"; hops: number }
  | { kind: "cidrs"; list: BlockList };

export function compileTrust(t: TrustedProxies | undefined): ProxyTrust {
  if (t === undefined) return { kind: "none" };
  if (t.hops !== undefined) return { kind: "hops", hops: t.hops };
  const list = new BlockList();
  for (const cidr of t.cidrs ?? []) {
    const [net = "", bits] = cidr.split("/");
    const ip = parseAddress(net) ?? net;
    const type = isIP(ip) === 6 ? "ipv6" : "ipv4";
    list.addSubnet(ip, bits === undefined ? (type === "ipv6" ? 128 : 32) : Number(bits), type);
  }
  return { kind: "cidrs", list };
}

export interface ClientAddress {
  /** The client's address, when one could be chosen and is an address. */
  ip?: string;
  /** Every hop when there was more than one, client side first; addresses normalized. */
  chain?: string[];
  /** Why the address is missing or less sure than it looks. */
  problem?: "invalid" | "untrusted-chain";
  /** Set when a hop of the chain is not an address (kept as written, e.g. "unknown"). */
  badHop?: true;
}

function hops(text: string): string[] {
  return text.includes(",") ? text.split(",").map((h) => h.trim()) : [text.trim()];
}

/**
 * The client address from the peer (the address field) and the forwarded chain (if the line has
 * one in another field). Without a chain it is the peer. With one, the peer is the last hop.
 */
export function clientAddress(
  peer: string | undefined,
  forwarded: string | undefined,
  trust: ProxyTrust,
): ClientAddress {
  // One address and no chain: the line almost every server writes, without building arrays.
  if (forwarded === undefined && peer !== undefined && !peer.includes(",")) {
    const ip = parseAddress(peer);
    return ip === undefined ? { problem: "invalid" } : { ip };
  }
  const chain = [
    ...(forwarded === undefined ? [] : hops(forwarded)),
    ...(peer === undefined ? [] : hops(peer)),
  ];
  if (chain.length === 0) return {};
  if (chain.length === 1) {
    const ip = parseAddress(chain[0] as string);
    return ip === undefined ? { problem: "invalid" } : { ip };
  }
  const normalized = chain.map((h) => parseAddress(h) ?? h);
  let pick: number;
  if (trust.kind === "hops") pick = Math.max(0, chain.length - 1 - trust.hops);
  else if (trust.kind === "cidrs") {
    pick = chain.length - 1;
    while (pick > 0) {
      const ip = parseAddress(chain[pick] as string);
      if (ip === undefined || !trust.list.check(ip, isIP(ip) === 6 ? "ipv6" : "ipv4")) break;
      pick--;
    }
  } else pick = chain.length - 1;
  const ip = parseAddress(chain[pick] as string);
  const out: ClientAddress = { chain: normalized };
  if (normalized.some((h) => parseAddress(h) === undefined)) out.badHop = true;
  if (ip === undefined) out.problem = "invalid";
  else out.ip = ip;
  // The nearest hop of a chain that arrived in the address field itself, with no trust
  // configured: only a proxy's word. Said so rather than presented as the client.
  const realPeer = forwarded !== undefined && peer !== undefined && !peer.includes(",");
  if (ip !== undefined && trust.kind === "none" && !realPeer) out.problem = "untrusted-chain";
  return out;
}
