/**
 * Every Kubernetes object the program renders, for every committed stack,
 * decoded strictly into the k8s.io/api types of the Kubernetes minor the
 * clusters run, by scripts/k8s-strict (built from the Go module proxy and
 * cached by pin: scripts/k8s-strict/build.sh). Strict as an API server with
 * fieldValidation=Strict: an unknown or duplicate field, a wrong type, or a
 * kind/version the pinned Kubernetes does not serve is an error.
 *
 * The objects are gathered as the scanners gather them (manifestsOf: every
 * kubernetes:* resource, the collector DaemonSet from its chart values), but
 * from the program run itself with secrets revealed, plus the Talos inline
 * manifests in the nodes' machine configs. They reach the checker on stdin,
 * so no Secret is written to disk.
 *
 * Custom resources (Argo CD's AppProject, Application, ApplicationSet;
 * Cilium's CiliumClusterwideNetworkPolicy) are not in k8s.io/api. Their CRD
 * schemas are not in the repository (test/support/crd-schema.ts holds only
 * Cluster API's), so they are named here and not schema-checked.
 */
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse, parseAllDocuments, stringify } from "yaml";
import { manifestsOf } from "../scripts/scanners/manifests";
import { INSTANCE, assertPresent, consumerGate, revealedResources, run } from "./support/consumers";
import { ROOT, STACKS, stackFilePath } from "./support/stacks";

const GO_MOD = fs.readFileSync(path.join(ROOT, "scripts", "k8s-strict", "go.mod"), "utf8");
const PIN = /^\s*k8s\.io\/api (v\S+)/m.exec(GO_MOD)?.[1];
const candidate =
  process.env.SKE_K8S_STRICT ??
  path.join(os.homedir(), ".cache", "ske-platform", "k8s-strict", PIN ?? "unpinned", "k8s-strict");
const checker = fs.existsSync(candidate) ? candidate : undefined;
const gate = consumerGate(checker, "scripts/k8s-strict/build.sh (SKE_K8S_STRICT or the cache by pin)");

/** API groups whose objects the program creates as custom resources, with their CRDs' owners. */
const CUSTOM_RESOURCE_GROUPS = ["argoproj.io", "cilium.io"];

interface Report {
  index: number;
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  result: "ok" | "invalid" | "not-built-in";
  message?: string;
}

interface Source {
  label: string;
  text: string;
}

/** Runs the checker over documents; reports line up with the documents in order. */
function decode(docs: readonly string[]): { status: number | null; reports: Report[]; output: string } {
  const result = run(checker!, [], docs.map((d) => d.trimEnd()).join("\n---\n") + "\n");
  const reports = result.stdout
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Report);
  return { status: result.status, reports, output: result.output };
}

const groupOf = (apiVersion = "") => (apiVersion.includes("/") ? apiVersion.split("/")[0]! : "");

describe("the strict decoder's pin", () => {
  it("is the Kubernetes minor every committed stack's clusters run", () => {
    expect(PIN).toMatch(/^v0\.\d+\.\d+$/);
    const minor = `1.${PIN!.split(".")[1]}`;
    for (const stack of STACKS) {
      const versions = [
        ...fs.readFileSync(stackFilePath(stack), "utf8").matchAll(/kubernetesVersion:\s*"?(\d+\.\d+)\./g),
      ].map((m) => m[1]);
      expect(versions.length, stack).toBeGreaterThan(0);
      expect(new Set(versions), stack).toEqual(new Set([minor]));
    }
  });
});

describe.skipIf(gate.skip)("Kubernetes objects under strict decoding into k8s.io/api", () => {
  const sources: Source[] = [];
  beforeAll(async () => {
    for (const stack of STACKS) {
      const resources = await revealedResources(stack);
      for (const m of manifestsOf(resources))
        sources.push({ label: `${stack}: ${m.object} (${m.source})`, text: m.yaml });
      const inline = new Map<string, string>();
      for (const r of resources) {
        if (
          r.type !== INSTANCE ||
          typeof r.inputs["userData"] !== "string" ||
          r.inputs["userData"].startsWith("#cloud-config")
        )
          continue;
        for (const doc of parseAllDocuments(r.inputs["userData"])) {
          for (const m of (
            doc.toJS() as { cluster?: { inlineManifests?: { name: string; contents: string }[] } } | null
          )?.cluster?.inlineManifests ?? []) {
            // Every node of a cluster carries the same manifests: check each distinct text once.
            inline.set(m.contents, `${stack}: Talos inline manifest ${m.name} (${r.name})`);
          }
        }
      }
      for (const [contents, label] of inline) {
        // The contents go in as the text Talos applies, one document per object.
        for (const doc of parseAllDocuments(contents)) sources.push({ label, text: doc.toString() });
      }
    }
  }, 90_000);

  it("decodes every built-in object of every committed stack, Talos inline manifests and Secrets included", () => {
    assertPresent(gate);
    const { status, reports, output } = decode(sources.map((s) => s.text));
    expect(reports.length, output).toBe(sources.length);
    const invalid = reports
      .filter((r) => r.result === "invalid")
      .map((r) => `${sources[r.index]!.label}: ${r.message}`);
    expect(invalid).toEqual([]);
    expect(status, output).toBe(0);
    const ok = reports.filter((r) => r.result === "ok");
    for (const kind of [
      "Namespace",
      "Secret",
      "ConfigMap",
      "Deployment",
      "DaemonSet",
      "CronJob",
      "ClusterRoleBinding",
      "ValidatingAdmissionPolicy",
      "NetworkPolicy",
    ]) {
      expect(
        ok.some((r) => r.kind === kind),
        kind,
      ).toBe(true);
    }
    expect(sources.filter((s) => s.label.includes("Talos inline manifest")).length).toBeGreaterThan(0);
    const custom = reports.filter((r) => r.result === "not-built-in");
    expect([...new Set(custom.map((r) => groupOf(r.apiVersion)))].sort()).toEqual(CUSTOM_RESOURCE_GROUPS);
  });

  it("rejects an unknown field, a duplicate field, a wrong type, a removed version and an unknown one", () => {
    assertPresent(gate);
    const deployment = sources.find((s) => parse(s.text)?.kind === "Deployment")!;
    const broken = parse(deployment.text);
    broken.spec.replicass = 2;
    const configMap = sources.find((s) => parse(s.text)?.kind === "ConfigMap")!.text;
    const duplicated = configMap.replace(/^metadata:\n/m, "metadata:\n  name: twice\n");
    const wrongType = parse(deployment.text);
    wrongType.spec.replicas = "two";
    // k8s.io/api still holds apps/v1beta2's types; the server dropped them in 1.16.
    const removed = { ...parse(deployment.text), apiVersion: "apps/v1beta2" };
    const unknownVersion = { ...parse(deployment.text), apiVersion: "apps/v2" };
    const { status, reports } = decode([
      stringify(broken),
      duplicated,
      stringify(wrongType),
      stringify(removed),
      stringify(unknownVersion),
    ]);
    expect(status).toBe(1);
    expect(reports.map((r) => r.result)).toEqual(["invalid", "invalid", "invalid", "invalid", "invalid"]);
    expect(reports[0]!.message).toBe('strict decoding error: unknown field "spec.replicass"');
    expect(reports[1]!.message).toMatch(/key "name" already set in map/);
    expect(reports[2]!.message).toMatch(
      /cannot unmarshal string into Go struct field DeploymentSpec\.spec\.replicas of type int32/,
    );
    expect(reports[3]!.message).toBe(
      `apps/v1beta2 Deployment was removed in Kubernetes 1.16; the pinned k8s.io/api is ${PIN}`,
    );
    expect(reports[4]!.message).toMatch(/no kind "Deployment" is registered for version "apps\/v2"/);
  });
});
