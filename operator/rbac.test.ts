import { describe, expect, it } from "vitest";
import { DEFAULT_RBAC, rbacManifests } from "./rbac.ts";

type Rule = { apiGroups: string[]; resources: string[]; verbs: string[]; resourceNames?: string[] };

describe("the operator's RBAC", () => {
  const rules = rbacManifests({ ...DEFAULT_RBAC, rollout: true }).flatMap(
    (m) => (m.rules as Rule[] | undefined) ?? [],
  );

  it("grants no wildcard and no delete, escalate, bind or impersonate", () => {
    for (const r of rules) {
      expect([...r.apiGroups, ...r.resources, ...r.verbs]).not.toContain("*");
      for (const v of ["delete", "deletecollection", "escalate", "bind", "impersonate"]) {
        expect(r.verbs).not.toContain(v);
      }
    }
  });

  it("never lists or watches Secrets, and writes pods not at all", () => {
    for (const r of rules) {
      if (r.resources.includes("secrets")) expect(r.verbs).toEqual(["get", "create", "update"]);
      // get: the certify endpoint reads the one pod a token names, fresh.
      if (r.resources.includes("pods")) expect(r.verbs).toEqual(["get", "list", "watch"]);
    }
  });

  it("may review tokens, and read only its own Service", () => {
    expect(rules).toContainEqual({
      apiGroups: ["authentication.k8s.io"],
      resources: ["tokenreviews"],
      verbs: ["create"],
    });
    const services = rbacManifests(DEFAULT_RBAC)
      .filter((m) => m.kind === "Role")
      .flatMap((m) => (m as { rules: typeof rules }).rules)
      .find((r) => r.resources.includes("services"));
    expect(services).toMatchObject({ verbs: ["get"], resourceNames: [DEFAULT_RBAC.name] });
  });

  it("limits the webhook configuration to its one name", () => {
    const hook = rules.find((r) => r.resources.includes("mutatingwebhookconfigurations"));
    expect(hook?.resourceNames).toEqual([DEFAULT_RBAC.webhookConfiguration]);
  });
});
