import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  CHART_CRD_FILE,
  CHART_RBAC_FILE,
  CRD_FILE,
  RBAC_FILE,
  RBAC_ROLLOUT_FILE,
  README_FILE,
  renderChartRbacYaml,
  renderCrdYaml,
  renderRbacYaml,
  renderRolloutRbacYaml,
} from "./generate-crd.ts";
import { parsePolicy } from "./parse.ts";
import { referenceMarkdown } from "./reference.ts";

type Node = { [k: string]: unknown };

function walk(node: Node, path: string, visit: (path: string, node: Node) => void) {
  visit(path, node);
  for (const [name, child] of Object.entries((node.properties as Node | undefined) ?? {}))
    walk(child as Node, `${path}.${name}`, visit);
  if (node.items) walk(node.items as Node, `${path}[]`, visit);
  if (typeof node.additionalProperties === "object")
    walk(node.additionalProperties as Node, `${path}.*`, visit);
}

describe("the AuditPolicy CRD", () => {
  it("in crds/ is exactly what the zod schema generates (run `npm run crds` after changing it)", () => {
    expect(readFileSync(CRD_FILE, "utf8")).toBe(renderCrdYaml());
    expect(readFileSync(CHART_CRD_FILE, "utf8")).toBe(renderCrdYaml());
  });

  it("the README's AuditPolicy reference is exactly what the schema generates", () => {
    expect(readFileSync(README_FILE, "utf8")).toContain(referenceMarkdown());
  });

  it("operator/rbac.yaml is exactly what operator/rbac.ts generates", () => {
    expect(readFileSync(RBAC_FILE, "utf8")).toBe(renderRbacYaml());
    expect(readFileSync(RBAC_ROLLOUT_FILE, "utf8")).toBe(renderRolloutRbacYaml());
    expect(readFileSync(CHART_RBAC_FILE, "utf8")).toBe(renderChartRbacYaml());
  });

  const crd = parse(renderCrdYaml());
  const version = crd.spec.versions[0];
  const root = version.schema.openAPIV3Schema as Node;

  it("describes every spec and status field, for kubectl explain", () => {
    const undescribed: string[] = [];
    for (const top of ["spec", "status"]) {
      walk((root.properties as Node)[top] as Node, top, (path, node) => {
        if (!path.endsWith("[]") && !path.endsWith(".*") && typeof node.description !== "string")
          undescribed.push(path);
      });
    }
    expect(undescribed).toEqual([]);
  });

  it("is structural: no additionalProperties:false, no anyOf, no zod-only formats", () => {
    const text = JSON.stringify(root);
    expect(text).not.toContain('"additionalProperties":false');
    expect(text).not.toContain('"anyOf"');
    expect(text).not.toContain("starts_with");
    expect(text).not.toContain("9007199254740991");
  });

  it("has a status subresource and the COVERAGE / TOPIC / MODE / INTEGRITY / AGE columns", () => {
    expect(version.subresources).toEqual({ status: {} });
    const columns = version.additionalPrinterColumns
      .filter((c: { priority?: number }) => !c.priority)
      .map((c: { name: string }) => c.name.toUpperCase());
    expect(columns).toEqual(["COVERAGE", "TOPIC", "MODE", "INTEGRITY", "AGE"]);
  });

  it("turns a redact rule union into one object with an exactly-one CEL rule", () => {
    const redact = ((root.properties as Node).spec as Node).properties as Node;
    const item = (redact.redact as Node).items as Node;
    expect(Object.keys(item.properties as Node)).toEqual(["field", "pattern"]);
    expect(item["x-kubernetes-validations"]).toEqual([
      {
        rule: "(has(self.field) ? 1 : 0) + (has(self.pattern) ? 1 : 0) == 1",
        message: "exactly one of field, pattern must be set",
      },
    ]);
  });
});

describe("parsePolicy", () => {
  const base = {
    apiVersion: "auditready.dev/v1alpha1",
    kind: "AuditPolicy",
    metadata: { name: "p", namespace: "ns", uid: "u", generation: 2 },
  };
  const spec = {
    selector: { matchLabels: { app: "a" } },
    source: { paths: ["/var/log/app/access.log"], format: "json" },
    sink: { kafka: { brokers: ["k:9092"], topic: "audit.a" } },
  };

  it("fills defaults the CRD leaves to the operator", () => {
    const r = parsePolicy({ ...base, spec });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.policy.spec.enforcement).toBe("Audit");
    expect(r.policy.spec.retention).toEqual({ days: 400, replicas: 3, minInSync: 2 });
    expect(r.policy.spec.sidecar.native).toBe(true);
    expect(r.policy.generation).toBe(2);
  });

  it("names the field of an invalid regex, which only code can check", () => {
    const r = parsePolicy({
      ...base,
      spec: { ...spec, source: { ...spec.source, format: "regex", pattern: "(?<a>[" } },
    });
    expect(r).toMatchObject({ ok: false, error: { kind: "InvalidSpec" } });
    if (r.ok) return;
    expect(r.error.message).toMatch(/^spec\.source\.pattern: invalid regular expression/);
  });

  it("rejects minInSync above replicas with the field path", () => {
    const r = parsePolicy({ ...base, spec: { ...spec, retention: { replicas: 1, minInSync: 2 } } });
    expect(r.ok ? "" : r.error.message).toBe(
      "spec.retention.minInSync: minInSync must not exceed replicas",
    );
  });
});
