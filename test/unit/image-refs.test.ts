// The image references the chart and the CRD default to are what image/build.sh builds:
// <package name>:<package version>; the chart's version and appVersion follow package.json.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { DEFAULT_SIDECAR_IMAGE } from "../../operator/api/policy.ts";

const read = (path: string) => readFileSync(new URL(`../../${path}`, import.meta.url), "utf8");
const pkg = JSON.parse(read("package.json")) as { name: string; version: string };
const chart = parse(read("charts/auditready/Chart.yaml")) as {
  version: string;
  appVersion: string;
};
const values = parse(read("charts/auditready/values.yaml")) as {
  image: { repository: string; tag: string };
};

describe("default image references", () => {
  it("the chart's version and appVersion are package.json's version", () => {
    expect(chart.version).toBe(pkg.version);
    expect(chart.appVersion).toBe(pkg.version);
  });

  it("the chart's operator image is the built image, its tag defaulting to appVersion", () => {
    expect(values.image.repository).toBe(pkg.name);
    expect(values.image.tag).toBe("");
    expect(`${values.image.repository}:${values.image.tag || chart.appVersion}`).toBe(
      `${pkg.name}:${pkg.version}`,
    );
  });

  it("the AuditPolicy's default sidecar image is the built image", () => {
    expect(DEFAULT_SIDECAR_IMAGE).toBe(`${pkg.name}:${pkg.version}`);
  });

  it("the operator container runs the image's `operator` command", () => {
    const deployment = read("charts/auditready/templates/deployment.yaml");
    const operator = deployment.slice(deployment.indexOf("- name: operator"));
    expect(operator).toMatch(/^ {10}args: \["operator"\]$/m);
    expect(operator).not.toMatch(/^ {10}command:/m);
  });
});
