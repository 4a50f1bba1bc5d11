import { describe, expect, it } from "vitest";
import { clientAddress, compileTrust, parseAddress } from "./address.ts";

describe("client addresses", () => {
  it("strips ports and brackets, unmaps IPv4 in IPv6, lower-cases IPv6", () => {
    expect(parseAddress("10.0.0.12:59292")).toBe("10.0.0.12");
    expect(parseAddress("[fd00::1]")).toBe("fd00::1");
    expect(parseAddress("[FD00::1]:8443")).toBe("fd00::1");
    expect(parseAddress("::ffff:10.0.0.1")).toBe("10.0.0.1");
    expect(parseAddress("::FFFF:0a00:0001")).toBe("10.0.0.1");
    expect(parseAddress(" 2001:db8::7 ")).toBe("2001:db8::7");
  });

  it("says when a value is not an address", () => {
    for (const v of ["unknown", "-", "1.2.3", "300.1.1.1", "10.0.0.1:", "app-server", "[::1"])
      expect(parseAddress(v)).toBeUndefined();
  });

  const chain = "203.0.113.7, 192.168.1.100, 10.42.0.1";

  it("takes the nearest hop of an untrusted chain and says so", () => {
    expect(clientAddress(chain, undefined, compileTrust(undefined))).toEqual({
      ip: "10.42.0.1",
      chain: ["203.0.113.7", "192.168.1.100", "10.42.0.1"],
      problem: "untrusted-chain",
    });
  });

  it("skips trusted proxies from the right, like nginx real_ip_recursive", () => {
    const trust = compileTrust({ cidrs: ["10.0.0.0/8", "192.168.0.0/16"] });
    expect(clientAddress(chain, undefined, trust).ip).toBe("203.0.113.7");
    // A spoofed left-most entry is never reached while an untrusted hop stands before it.
    expect(clientAddress("1.1.1.1, 198.51.100.9, 10.0.0.3", undefined, trust).ip).toBe(
      "198.51.100.9",
    );
  });

  it("counts hops from the right", () => {
    expect(clientAddress(chain, undefined, compileTrust({ hops: 1 })).ip).toBe("192.168.1.100");
    expect(clientAddress(chain, undefined, compileTrust({ hops: 9 })).ip).toBe("203.0.113.7");
  });

  it("uses the peer when the chain is in its own field and nothing is trusted", () => {
    const r = clientAddress("10.42.0.1:4711", "203.0.113.7", compileTrust(undefined));
    expect(r).toEqual({ ip: "10.42.0.1", chain: ["203.0.113.7", "10.42.0.1"] });
    const trusted = clientAddress(
      "10.42.0.1",
      "203.0.113.7",
      compileTrust({ cidrs: ["10.42.0.0/16"] }),
    );
    expect(trusted.ip).toBe("203.0.113.7");
  });

  it("flags a chosen hop that is not an address", () => {
    expect(clientAddress("unknown, 10.0.0.1", undefined, compileTrust({ hops: 1 }))).toEqual({
      chain: ["unknown", "10.0.0.1"],
      problem: "invalid",
      badHop: true,
    });
  });
});
