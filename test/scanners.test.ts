import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  gate,
  gatePasses,
  kubeScoreFindings,
  trivyFindings,
  waiverProblems,
  type Finding,
  type Waiver,
} from "../scripts/scanners/findings";
import { manifestFileName, manifestsOf, renderCollectorDaemonSet } from "../scripts/scanners/manifests";
import { ROOT, synthOk } from "./support/stacks";

const finding = (check: string, object: string, scanner: Finding["scanner"] = "trivy"): Finding => ({
  scanner,
  check,
  object,
  severity: "HIGH",
  title: check,
});
const waiver = (check: string, object: string, reason = "accepted for a reason long enough"): Waiver => ({
  scanner: "trivy",
  check,
  object,
  reason,
});

describe("the scanner gate", () => {
  it("fails on a finding no waiver covers, and passes once one does", () => {
    const findings = [finding("KSV-0017", "Pod/x/bad")];
    expect(gatePasses(gate(findings, []))).toBe(false);
    expect(gate(findings, []).fresh).toEqual(findings);
    expect(gatePasses(gate(findings, [waiver("KSV-0017", "Pod/x/bad")]))).toBe(true);
  });

  it("counts the same finding in several clusters and stacks once", () => {
    const g = gate([finding("KSV-0041", "ClusterRole/_/r"), finding("KSV-0041", "ClusterRole/_/r")], []);
    expect(g.findings).toHaveLength(1);
  });

  it("matches a waiver only for its scanner, check and object (a * stands for one segment)", () => {
    const f = finding("KSV-0023", "DaemonSet/audit-collector/audit-collector");
    expect(gate([f], [waiver("KSV-0023", "DaemonSet/*/audit-collector")]).fresh).toEqual([]);
    expect(gate([f], [waiver("KSV-0024", "DaemonSet/audit-collector/audit-collector")]).fresh).toEqual([f]);
    expect(
      gate([f], [{ ...waiver("KSV-0023", "DaemonSet/audit-collector/audit-collector"), scanner: "kube-score" }]).fresh,
    ).toEqual([f]);
    expect(gate([f], [waiver("KSV-0023", "DaemonSet/audit-collector")]).fresh).toEqual([f]);
  });

  it("reports an idle waiver without failing, and fails one without a real reason or naming every check", () => {
    const idle = gate([], [waiver("KSV-0001", "Pod/x/y")]);
    expect(idle.stale).toHaveLength(1);
    expect(gatePasses(idle)).toBe(true);
    expect(gatePasses(gate([], [waiver("KSV-0001", "Pod/x/y", "ok")]))).toBe(false);
    expect(waiverProblems([waiver("KSV-0001", "Pod/x/y", "ok")])[0]).toMatch(/needs a reason/);
    expect(waiverProblems([waiver("*", "Pod/x/y")])[0]).toMatch(/never "\*"/);
  });

  it("every committed waiver has a reason", () => {
    const { waivers } = parse(fs.readFileSync(path.join(ROOT, "scripts/scanners/waivers.yaml"), "utf8")) as {
      waivers: Waiver[];
    };
    expect(waivers.length).toBeGreaterThan(0);
    expect(waiverProblems(waivers)).toEqual([]);
  });
});

describe("reading the scanners' JSON", () => {
  it("takes trivy's failed misconfigurations per scanned file", () => {
    const report = {
      Results: [
        {
          Target: "c--Pod--x--bad.yaml",
          Misconfigurations: [
            { ID: "KSV-0017", Severity: "HIGH", Title: "Privileged", Status: "FAIL" },
            { ID: "KSV-0001", Severity: "MEDIUM", Title: "ok", Status: "PASS" },
          ],
        },
      ],
    };
    expect(trivyFindings(report, new Map([["c--Pod--x--bad.yaml", "Pod/x/bad"]]))).toEqual([
      { scanner: "trivy", check: "KSV-0017", object: "Pod/x/bad", severity: "HIGH", title: "Privileged" },
    ]);
    expect(() => trivyFindings(report, new Map())).toThrow(/not one of the scanned manifests/);
  });

  it("takes kube-score's graded, unskipped checks", () => {
    const report = [
      {
        type_meta: { kind: "Pod" },
        object_meta: { name: "bad", namespace: "x" },
        checks: [
          {
            check: { id: "container-resources", name: "Container Resources" },
            grade: 1,
            skipped: false,
            comments: [{ summary: "CPU limit is not set" }],
          },
          { check: { id: "pod-probes", name: "Pod Probes" }, grade: 10, skipped: true, comments: null },
          { check: { id: "label-values", name: "Label values" }, grade: 10, skipped: false, comments: [] },
        ],
      },
    ];
    expect(kubeScoreFindings(report)).toEqual([
      {
        scanner: "kube-score",
        check: "container-resources",
        object: "Pod/x/bad",
        severity: "CRITICAL",
        title: "CPU limit is not set",
      },
    ]);
  });
});

describe("what the scanners read", () => {
  it("is every Kubernetes object of the synthesized stack, plus the collector DaemonSet rendered from its values", async () => {
    const run = await synthOk("production");
    const manifests = manifestsOf(run.resources);
    const kubernetes = run.resources.filter(
      (r) => r.type.startsWith("kubernetes:") && r.type !== "kubernetes:helm.sh/v3:Release",
    );
    expect(manifests.filter((m) => m.source === "program")).toHaveLength(kubernetes.length);
    const vectors = run.resources.filter(
      (r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs["chart"] === "vector",
    );
    // Audit collectors and the central view's platform-log collectors, one per cluster each.
    expect(
      manifests
        .filter((m) => m.source === "values")
        .map((m) => m.object)
        .sort(),
    ).toEqual(
      vectors
        .map((v) =>
          v.inputs["name"] === "platform-logs"
            ? "DaemonSet/platform-logs/platform-logs"
            : "DaemonSet/audit-collector/audit-collector",
        )
        .sort(),
    );
    expect(vectors.filter((v) => v.inputs["name"] === "audit-collector")).toHaveLength(3);
    expect(new Set(manifests.map(manifestFileName)).size).toBe(manifests.length);
    // Secrets reach the scanners redacted, never in clear. Certificates are public
    // (the ingest CA that collectors trust is a ConfigMap), so are public keys (the etcd backups'
    // encryption key); every other fake value is a secret.
    const scanned = manifests.map((m) => m.yaml).join("\n");
    expect(scanned).not.toMatch(/FAKE(?!-SYNTH-CERT-|-SYNTH-PUBLIC-KEY-)|BEGIN [A-Z ]*PRIVATE KEY/);
    expect(scanned).toContain("FAKE-SYNTH-CERT-production-audit-ingest-ca");
  }, 60_000);

  it("renders the collector pod with exactly the volumes and security contexts of its values", async () => {
    const run = await synthOk("production");
    const release = run.resources.find(
      (r) =>
        r.type === "kubernetes:helm.sh/v3:Release" &&
        r.inputs["chart"] === "vector" &&
        r.inputs["name"] === "audit-collector",
    )!;
    const pod = (renderCollectorDaemonSet(release) as any).spec.template.spec;
    expect(pod.volumes.map((v: any) => v.hostPath?.path).filter(Boolean)).toEqual(["/var/log/audit/kube"]);
    expect(pod.volumes.find((v: any) => v.name === "data")).toEqual({ name: "data", emptyDir: {} });
    expect(pod.securityContext.runAsUser).toBe(65534);
    expect(pod.containers[0].securityContext.capabilities.drop).toEqual(["ALL"]);
    expect(pod.containers[0].image).toBe("timberio/vector:0.44.0-distroless-libc");
  }, 60_000);
});
