import { beforeAll, describe, expect, it } from "vitest";
import {
  AUDITOR_CLUSTER_ROLE,
  AUDITOR_RULES,
  FORBIDDEN_RESOURCES,
  READ_VERBS,
  kubernetesGroups,
  readOnlyRuleProblems,
  type PolicyRule,
} from "../components/cluster-access";
import { grafanaValues, roleAttributePath } from "../components/grafana";
import type { RecordedResource } from "../synth/mock-runtime";
import { loadStack, runGitOps, type GitOpsRun } from "./support/gitops-fixture";
import { STACKS, ofType } from "./support/stacks";

const ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole";
const BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding";
const WRITE_VERBS = ["create", "update", "patch", "delete", "deletecollection", "impersonate", "escalate", "bind", "approve", "sign", "*"];

const providerOf = (r: RecordedResource) => r.provider?.split("::")[3];

describe("the auditor rule table", () => {
  const verbs = AUDITOR_RULES.flatMap((r) => r.verbs);
  const resources = AUDITOR_RULES.flatMap((r) => r.resources);
  const groups = AUDITOR_RULES.flatMap((r) => r.apiGroups);

  it("grants only get, list and watch", () => {
    expect(new Set(verbs)).toEqual(new Set(READ_VERBS));
    for (const verb of WRITE_VERBS) expect(verbs).not.toContain(verb);
  });

  it("never names Secrets, exec, attach, port-forward, proxy or token requests, nor any subresource", () => {
    for (const resource of ["secrets", "pods/exec", "pods/attach", "pods/portforward", "services/proxy", "nodes/proxy", "pods/proxy", "serviceaccounts/token"]) {
      expect(resources).not.toContain(resource);
    }
    expect(resources.filter((r) => r.includes("/"))).toEqual([]);
  });

  it("uses no wildcard, so Secrets cannot come in through '*'", () => {
    expect([...verbs, ...resources, ...groups].filter((v) => v.includes("*"))).toEqual([]);
  });

  it("passes its own guard, and still lets auditors review RBAC and what runs where (services, nodes, events)", () => {
    expect(readOnlyRuleProblems(AUDITOR_RULES)).toEqual([]);
    const rbac = AUDITOR_RULES.find((r) => r.apiGroups.includes("rbac.authorization.k8s.io"))!;
    expect(rbac.resources).toEqual(expect.arrayContaining(["roles", "rolebindings", "clusterroles", "clusterrolebindings"]));
    expect(AUDITOR_RULES.find((r) => r.apiGroups.includes(""))!.resources).toEqual(expect.arrayContaining(["services", "nodes", "events", "namespaces"]));
  });

  it("reads no ConfigMap and no kind with an inline pod spec, whose env values can carry credentials", () => {
    const granted = AUDITOR_RULES.flatMap((r) => r.resources);
    for (const kind of ["configmaps", "pods", "podtemplates", "deployments", "replicasets", "statefulsets", "daemonsets", "jobs", "cronjobs", "replicationcontrollers", "controllerrevisions"]) {
      expect(granted, kind).not.toContain(kind);
      expect(readOnlyRuleProblems([{ apiGroups: [""], resources: [kind], verbs: ["get"] }]).join(), kind).toMatch(/never readable/);
    }
  });

  describe("the guard refuses every way of widening it", () => {
    const core: PolicyRule = { apiGroups: [""], resources: ["services"], verbs: ["get"] };
    const cases: [string, PolicyRule, RegExp][] = [
      ["a write verb", { ...core, verbs: ["get", "patch"] }, /verb "patch" is not read-only/],
      ["a wildcard verb", { ...core, verbs: ["*"] }, /verb "\*"/],
      ["Secrets", { ...core, resources: ["secrets"] }, /"secrets" is never readable/],
      ...FORBIDDEN_RESOURCES.filter((r) => r !== "secrets").map((r): [string, PolicyRule, RegExp] => [r, { ...core, resources: [r] }, /never readable/]),
      ["an unlisted subresource", { ...core, resources: ["deployments/scale"] }, /subresource "deployments\/scale"/],
      ["a wildcard resource", { ...core, resources: ["*"] }, /wildcard resource/],
      ["a wildcard API group", { ...core, apiGroups: ["*"] }, /wildcard API group/],
      ["an empty verb list", { ...core, verbs: [] }, /must each be listed/],
    ];
    it.each(cases)("%s", (_what, rule, message) => {
      const problems = readOnlyRuleProblems([...AUDITOR_RULES, rule]);
      expect(problems.join("\n")).toMatch(message);
    });
  });
});

describe("OIDC groups", () => {
  it("carry the apiserver's prefix in Kubernetes RBAC", () => {
    expect(kubernetesGroups({ platform: "platform-team", auditors: "auditors" }, "zitadel:")).toEqual({
      platform: "zitadel:platform-team",
      auditors: "zitadel:auditors",
    });
  });
});

describe.each(STACKS)("access in every cluster of %s", (stack) => {
  let run: GitOpsRun;
  const { plan, loaded } = loadStack(stack);
  const prefix = loaded.config.zitadel.groupsPrefix;

  beforeAll(async () => {
    run = await runGitOps(stack);
  });

  it("creates the read-only auditor role, bound to the prefixed auditors group, in each cluster through its own provider", () => {
    for (const cluster of plan.clusters) {
      const provider = `${cluster.name}-k8s`;
      const roles = ofType(run.resources, ROLE).filter((r) => providerOf(r) === provider);
      expect(roles, cluster.name).toHaveLength(1);
      expect((roles[0]!.inputs["metadata"] as any).name).toBe(AUDITOR_CLUSTER_ROLE);
      const rules = roles[0]!.inputs["rules"] as PolicyRule[];
      expect(readOnlyRuleProblems(rules)).toEqual([]);
      expect(rules.flatMap((r) => r.resources)).not.toContain("secrets");

      const bindings = ofType(run.resources, BINDING).filter((r) => providerOf(r) === provider);
      const auditors = bindings.filter((b) => (b.inputs["subjects"] as any[]).some((s) => s.name === `${prefix}${loaded.config.zitadel.auditorGroup}`));
      expect(auditors.map((b) => (b.inputs["roleRef"] as any).name)).toEqual([AUDITOR_CLUSTER_ROLE]);
      expect((auditors[0]!.inputs["subjects"] as any[])[0]).toMatchObject({ kind: "Group", apiGroup: "rbac.authorization.k8s.io" });
    }
  });

  it("binds the platform group to admin (and cluster-wide reads), never to cluster-admin", () => {
    for (const cluster of plan.clusters) {
      const bindings = ofType(run.resources, BINDING).filter((r) => providerOf(r) === `${cluster.name}-k8s`);
      const platform = bindings.filter((b) => (b.inputs["subjects"] as any[]).some((s) => s.name === `${prefix}${loaded.config.zitadel.platformGroup}`));
      expect(platform.map((b) => (b.inputs["roleRef"] as any).name).sort()).toEqual(["admin", AUDITOR_CLUSTER_ROLE].sort());
    }
  });
});

describe("Grafana for auditors", () => {
  const sso = { issuer: "https://id.example.net", clientId: "grafana", groupsClaim: "groups", platformGroup: "platform-team", auditorGroup: "auditors", requireMfa: true };
  const values = grafanaValues({ sso, rootUrl: "http://localhost:3000", lokiUrl: "http://loki:3100" });
  const oauth = values["grafana.ini"]["auth.generic_oauth"];

  it("maps platform → Admin, auditors → Viewer, and refuses anyone else", () => {
    expect(oauth.role_attribute_path).toBe(`contains("groups"[*], 'platform-team') && contains(not_null(amr, \`[]\`), 'mfa') && 'Admin' || contains("groups"[*], 'auditors') && 'Viewer'`);
    expect(oauth.role_attribute_strict).toBe(true);
    expect(oauth.allowed_groups).toBe("platform-team auditors");
    expect(oauth.allow_assign_grafana_admin).toBe(false);
  });

  it("quotes claims and group names so they cannot change the expression", () => {
    const path = roleAttributePath({ groupsClaim: "urn:zitadel:groups", platformGroup: "a'b", auditorGroup: "c", requireMfa: true });
    expect(path).toContain(`"urn:zitadel:groups"[*]`);
    expect(path).toContain(`'a\\'b'`);
  });

  it("has SSO as the only way in, with PKCE and no client secret, on a ClusterIP service", () => {
    expect(values["grafana.ini"].auth.disable_login_form).toBe(true);
    expect(values["grafana.ini"]["auth.basic"].enabled).toBe(false);
    expect(values["grafana.ini"]["auth.anonymous"].enabled).toBe(false);
    expect(oauth.use_pkce).toBe(true);
    expect(JSON.stringify(values)).not.toMatch(/client_secret/);
    expect(values.service.type).toBe("ClusterIP");
    expect(values.ingress.enabled).toBe(false);
  });

  it("is installed in the ops cluster with Loki as its data source", async () => {
    const run = await runGitOps("test");
    const { plan } = loadStack("test");
    const ops = plan.clusters.find((c) => c.role === "ops")!;
    const grafana = ofType(run.resources, "kubernetes:helm.sh/v3:Release").find((r) => r.inputs["chart"] === "grafana")!;
    expect(providerOf(grafana)).toBe(`${ops.name}-k8s`);
    const datasources = (grafana.inputs["values"] as any).datasources["datasources.yaml"].datasources;
    expect(datasources).toEqual([expect.objectContaining({ type: "loki", url: expect.stringMatching(/^http:\/\/loki\.[a-z-]+\.svc\.cluster\.local:3100$/) })]);
  });
});
