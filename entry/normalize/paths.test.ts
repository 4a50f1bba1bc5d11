import { describe, expect, it } from "vitest";
import { getPath, parsePath, pathGetter, setPath } from "./paths.ts";

describe("field paths", () => {
  it("splits keys and array indexes", () => {
    expect(parsePath("request.headers.User-Agent[0]")).toEqual([
      "request",
      "headers",
      "User-Agent",
      0,
    ]);
    expect(parsePath("a[1][2].b")).toEqual(["a", 1, 2, "b"]);
    expect(parsePath("a[x]")).toEqual(["a[x]"]);
    expect(parsePath("[3]")).toEqual([3]);
  });

  it("reaches an element of an array, as Caddy logs headers", () => {
    const line = { request: { headers: { "User-Agent": ["curl/8.4.0", "second"] } } };
    expect(getPath(line, "request.headers.User-Agent[0]")).toBe("curl/8.4.0");
    expect(pathGetter("request.headers.User-Agent[1]")(line)).toBe("second");
    expect(pathGetter("request.headers.User-Agent[2]")(line)).toBeUndefined();
    expect(pathGetter("request.headers.User-Agent.0")(line)).toBeUndefined();
    expect(pathGetter("request[0]")(line)).toBeUndefined();
  });

  it("prefers an exact key with dots or brackets in it", () => {
    expect(getPath({ "a.b[0]": "exact", a: { b: ["deep"] } }, "a.b[0]")).toBe("exact");
  });

  it("sets an array element only where it exists", () => {
    const line = { h: { auth: ["Bearer x"] } };
    expect(setPath(line, "h.auth[0]", "[REDACTED]")).toBe(true);
    expect(line.h.auth).toEqual(["[REDACTED]"]);
    expect(setPath(line, "h.auth[1]", "y")).toBe(false);
    expect(setPath(line, "h.nope[0]", "y")).toBe(false);
    expect(line).toEqual({ h: { auth: ["[REDACTED]"] } });
  });
});
