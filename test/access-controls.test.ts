import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import {
  argoCdValues,
  lockedDefaultProjectSpec,
  rootProjectSpec,
  appProjectSpec,
  IN_CLUSTER_SERVER,
} from "../components/argocd";
import { grafanaValues } from "../components/grafana/values";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { adminMfa, argoCdBoundaries, distinctIdentity } from "../policy/access-controls";
import { committedForeignClients } from "../policy/committed-identities";
import { policyContext } from "../policy/context";
import type { PolicyContext, PolicyResource, StackPolicy } from "../policy/model";
import { readStackFile } from "../config/stack-file";
import { stackFilePath, synthOk, synthStack, variantFile } from "./support/stacks";

const contextOf = (stack: string): PolicyContext => {
  const { config, addressPlan } = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan());
  return policyContext(config, addressPlan);
};
const production = contextOf("production");
const judge = (policy: StackPolicy, resources: PolicyResource[], ctx: PolicyContext) =>
  policy.validate({ resources, outputs: [] }, ctx).map((v) => v.message);

const res = (type: string, name: string, props: Record<string, unknown>): PolicyResource => ({ type, name, props });
const PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject";
const REPO = "git@github.com:o/ske-gitops.git";
const sso = {
  issuer: "https://id",
  clientId: "argo-prod",
  groupsClaim: "groups",
  platformGroup: "platform-team",
  auditorGroup: "auditors",
  requireMfa: true,
};
const argoRelease = (values: unknown = argoCdValues({ url: "https://localhost:8080", sso })) =>
  res("kubernetes:helm.sh/v3:Release", "argocd", { chart: "argo-cd", values });

describe("argocd-boundaries-not-from-git", () => {
  const meta = (name: string) => ({ name, namespace: "argocd" });
  const defaultPatch = (spec: unknown = lockedDefaultProjectSpec()) =>
    res(`${PROJECT}Patch`, "default-project", { metadata: meta("default"), spec });
  const rootProject = (spec: unknown = rootProjectSpec("production", REPO, "argocd")) =>
    res(PROJECT, "root-project", { metadata: meta("production-root"), spec });
  const envProject = (
    spec: unknown = appProjectSpec("production", REPO, [IN_CLUSTER_SERVER, "https://10.32.16.8:6443"], "argocd"),
  ) => res(PROJECT, "project", { metadata: meta("production"), spec });
  const rootApp = (project = "production-root") =>
    res("kubernetes:argoproj.io/v1alpha1:Application", "root-app", {
      metadata: meta("production-root"),
      spec: { project },
    });
  const stack = (over: Partial<Record<"def" | "root" | "env" | "app", PolicyResource | undefined>> = {}) =>
    [
      argoRelease(),
      "def" in over ? over.def : defaultPatch(),
      over.root ?? rootProject(),
      over.env ?? envProject(),
      over.app ?? rootApp(),
    ].filter((r): r is PolicyResource => r !== undefined);

  it("passes what components/argocd registers", () => {
    expect(judge(argoCdBoundaries, stack(), production)).toEqual([]);
  });

  it("fails when the default project is left as Argo CD creates it, or only partly emptied", () => {
    expect(judge(argoCdBoundaries, stack({ def: undefined }), production)).toEqual([
      "the built-in default AppProject in argocd is not locked down by this stack",
    ]);
    const open = {
      sourceRepos: ["*"],
      destinations: [{ server: "*", namespace: "*" }],
      clusterResourceWhitelist: [{ group: "*", kind: "*" }],
    };
    expect(judge(argoCdBoundaries, stack({ def: defaultPatch(open) }), production)).toEqual([
      "default AppProject: sourceRepos must be an empty list",
      "default AppProject: destinations must be an empty list",
      "default AppProject: clusterResourceWhitelist must be an empty list",
      "default AppProject: namespaced kinds must be none (empty whitelist or a */* blacklist)",
    ]);
  });

  it("fails when the root app's project may create AppProjects, Secrets, any namespaced kind or cluster-scoped kinds", () => {
    const base = rootProjectSpec("production", REPO, "argocd");
    expect(
      judge(
        argoCdBoundaries,
        stack({
          root: rootProject({
            ...base,
            namespaceResourceWhitelist: [
              ...base.namespaceResourceWhitelist!,
              { group: "argoproj.io", kind: "AppProject" },
              { group: "", kind: "Secret" },
            ],
          }),
        }),
        production,
      ),
    ).toEqual([
      "root project production-root may create argoproj.io/AppProject; only Applications and ApplicationSets are allowed",
      "root project production-root may create /Secret; only Applications and ApplicationSets are allowed",
    ]);
    const { namespaceResourceWhitelist: _, ...noWhitelist } = base;
    expect(judge(argoCdBoundaries, stack({ root: rootProject(noWhitelist) }), production)[0]).toMatch(
      /has no namespaceResourceWhitelist/,
    );
    expect(
      judge(
        argoCdBoundaries,
        stack({ root: rootProject({ ...base, clusterResourceWhitelist: [{ group: "*", kind: "*" }] }) }),
        production,
      ),
    ).toEqual(["root project production-root may create cluster-scoped resources"]);
    expect(judge(argoCdBoundaries, stack({ app: rootApp("default") }), production)[0]).toMatch(
      /runs in the default project/,
    );
  });

  it("fails when the workload project may create AppProjects or write into Argo CD's namespace", () => {
    const base = appProjectSpec("production", REPO, [IN_CLUSTER_SERVER], "argocd");
    const { namespaceResourceBlacklist: _, ...noBlacklist } = base;
    expect(judge(argoCdBoundaries, stack({ env: envProject(noBlacklist) }), production)).toEqual([
      "project production may create AppProjects",
    ]);
    const intoArgo = { ...base, destinations: base.destinations.filter((d) => !d.namespace.startsWith("!")) };
    expect(judge(argoCdBoundaries, stack({ env: envProject(intoArgo) }), production)).toEqual([
      "project production may deploy into argocd on the ops cluster, where cluster and repository Secrets live",
    ]);
  });
});

describe("environments-distinct-oidc-clients", () => {
  const grafana = (clientId: string) =>
    res("kubernetes:helm.sh/v3:Release", "grafana", {
      chart: "grafana",
      values: grafanaValues({
        sso: { ...sso, clientId },
        rootUrl: "http://localhost:3000",
        lokiUrl: "http://loki:3100",
      }),
    });
  // What an API server trusts is the evidence on its apply-config roll-out step (policy/applied-evidence.ts).
  const controlPlane = (audiences: string) =>
    res("command:local:Command", "cp-0-apply-config", {
      environment: { SKE_NODE_NAME: "cp-0", SKE_NODE_ROLE: "controlplane", SKE_EVIDENCE_OIDC_AUDIENCES: audiences },
    });

  it("reads every other environment's committed client ids", () => {
    const foreign = committedForeignClients("production");
    expect(new Set(foreign.map((f) => f.environment))).toEqual(new Set(["staging", "test"]));
    expect(foreign).toHaveLength(6);
    expect(foreign.map((f) => f.clientId)).not.toContain("312345678901234567@ske");
  });

  it("passes clients only production declares, and fails each surface that trusts a client staging or test declares", () => {
    expect(
      judge(
        distinctIdentity,
        [controlPlane("312345678901234567@ske"), argoRelease(), grafana("312345678901234569@ske")],
        production,
      ),
    ).toEqual([]);
    const stagingK8s = committedForeignClients("production").find(
      (f) => f.environment === "staging" && f.key === "kubernetesClientId",
    )!.clientId;
    const testGrafana = committedForeignClients("production").find(
      (f) => f.environment === "test" && f.key === "grafanaClientId",
    )!.clientId;
    expect(judge(distinctIdentity, [controlPlane(stagingK8s), grafana(testGrafana)], production)).toEqual([
      `cp-0 (apiserver) trusts client ${stagingK8s}, which Pulumi.staging.yaml declares as staging's zitadel.kubernetesClientId: a staging token would be accepted in production`,
      `grafana (Grafana) trusts client ${testGrafana}, which Pulumi.test.yaml declares as test's zitadel.grafanaClientId: a test token would be accepted in production`,
    ]);
  });

  it("finds a shared client in whichever sibling file declares it", () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "ske-ids-"));
    fs.writeFileSync(
      path.join(root, "Pulumi.test.yaml"),
      stringify({
        config: {
          "ske-platform:zitadel": { kubernetesClientId: "shared@ske", argocdClientId: "a", grafanaClientId: "g" },
        },
      }),
    );
    const ctx = { ...production, foreignClients: committedForeignClients("production", root) };
    expect(judge(distinctIdentity, [controlPlane("shared@ske")], ctx)).toEqual([
      "cp-0 (apiserver) trusts client shared@ske, which Pulumi.test.yaml declares as test's zitadel.kubernetesClientId: a test token would be accepted in production",
    ]);
  });

  it("fails a staging stack that reuses production's client ids, in synth", async () => {
    const shared = variantFile("staging", (c) => {
      const { kubernetesClientId, argocdClientId, grafanaClientId } = JSON.parse(
        readStackFile(stackFilePath("production"), "production").values["ske-platform:zitadel"]!,
      );
      Object.assign(c["ske-platform:zitadel"], { kubernetesClientId, argocdClientId, grafanaClientId });
    });
    const run = await synthOk("staging", shared);
    const result = run.compliance.results.find((r) => r.name === "environments-distinct-oidc-clients")!;
    expect(result.status).toBe("fail");
    expect(result.violations.length).toBeGreaterThanOrEqual(3);
    expect(run.compliance.failedControls).toContain("6.1");
    expect(run.compliance.report).toContain("**Verdict: FAIL.**");
  }, 60_000);
});

describe("platform-admins-need-mfa", () => {
  const grafana = (requireMfa: boolean) =>
    res("kubernetes:helm.sh/v3:Release", "grafana", {
      chart: "grafana",
      values: grafanaValues({
        sso: { ...sso, requireMfa },
        rootUrl: "http://localhost:3000",
        lokiUrl: "http://loki:3100",
      }),
    });

  it("passes Argo CD and Grafana as the components render them with requireMfa", () => {
    expect(judge(adminMfa, [argoRelease(), grafana(true)], production)).toEqual([]);
  });

  it("fails when MFA is off, naming each surface that lets a password alone reach admin", () => {
    const lax = argoRelease(argoCdValues({ url: "https://localhost:8080", sso: { ...sso, requireMfa: false } }));
    expect(
      judge(adminMfa, [lax, grafana(false)], { ...production, oidc: { ...production.oidc, requireMfa: false } }),
    ).toEqual([
      "zitadel.requireMfa is off in production: platform admins can sign in with a password alone",
      "Argo CD's RBAC scopes do not include the MFA-gated claim ske_mfa_groups",
      "Argo CD grants role:admin to platform-team without the MFA-gated claim",
      `Grafana grants a writing role without mfa in amr: contains("groups"[*], 'platform-team') && 'Admin'`,
    ]);
  });

  it("refuses a production stack with zitadel.requireMfa: false before any resource, naming key and file", async () => {
    const result = await synthStack(
      "production",
      variantFile("production", (c) => {
        c["ske-platform:zitadel"].requireMfa = false;
      }),
    );
    expect(result.ok).toBe(false);
    expect(result.ok ? "" : result.error).toMatch(
      /Pulumi\.production\.yaml: ske-platform:zitadel\.requireMfa: .*MFA cannot be switched off/,
    );
  }, 60_000);

  it("fails a test stack with zitadel.requireMfa: false, in synth (test may run without MFA; the verdict says so)", async () => {
    const run = await synthOk(
      "test",
      variantFile("test", (c) => {
        c["ske-platform:zitadel"].requireMfa = false;
      }),
    );
    const result = run.compliance.results.find((r) => r.name === "platform-admins-need-mfa")!;
    expect(result.status).toBe("fail");
    expect(result.violations.map((v) => v.message)).toContain(
      "Argo CD grants role:admin to platform-team without the MFA-gated claim",
    );
    expect(run.compliance.report).toMatch(/`platform-admins-need-mfa` \| mandatory \| FAIL/);
  }, 60_000);
});
