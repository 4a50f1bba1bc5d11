// The API server's defaults, filled in as it does: equal specs compare equal however they were
// written, and a value set to something else still differs.
import { describe, expect, it } from "vitest";
import { canonicalQuantity, defaultContainer, defaultVolume } from "./pod-defaults.ts";

describe("canonicalQuantity", () => {
  it("gives one form to every spelling of the same amount", () => {
    expect(canonicalQuantity("1Gi")).toBe(canonicalQuantity("1024Mi"));
    expect(canonicalQuantity("0.5")).toBe("500m");
    expect(canonicalQuantity("500m")).toBe("500m");
    expect(canonicalQuantity("1e3")).toBe(canonicalQuantity("1k"));
    expect(canonicalQuantity("16Mi")).toBe(String(16 * 1024 * 1024));
  });

  it("keeps different amounts apart, and text that is no quantity as it is", () => {
    expect(canonicalQuantity("256Mi")).not.toBe(canonicalQuantity("256M"));
    expect(canonicalQuantity("lots")).toBe("lots");
  });
});

describe("defaultContainer", () => {
  it("fills what the API server fills and keeps what was set", () => {
    const c = defaultContainer({
      name: "c",
      image: "repo/app",
      ports: [{ containerPort: 1 }],
      readinessProbe: { httpGet: { path: "/", port: 1 }, periodSeconds: 5 },
      resources: { limits: { cpu: "1" } },
    });
    expect(c).toMatchObject({
      imagePullPolicy: "Always",
      terminationMessagePath: "/dev/termination-log",
      terminationMessagePolicy: "File",
      ports: [{ containerPort: 1, protocol: "TCP" }],
      readinessProbe: { periodSeconds: 5, timeoutSeconds: 1, failureThreshold: 3 },
      resources: { limits: { cpu: "1" }, requests: { cpu: "1" } },
    });
    expect(defaultContainer({ name: "c", image: "app:1.2" }).imagePullPolicy).toBe("IfNotPresent");
  });

  it("defaults a projected token's lifetime to an hour", () => {
    const v = defaultVolume({
      name: "t",
      projected: { sources: [{ serviceAccountToken: { path: "token" } }] },
    });
    expect(v.projected).toEqual({
      defaultMode: 0o644,
      sources: [{ serviceAccountToken: { path: "token", expirationSeconds: 3600 } }],
    });
  });
});
