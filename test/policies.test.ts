import { unknownCheckingProxy } from "@pulumi/policy";
import { parse, stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { argoCdValues } from "../components/argocd/values";
import { AUDITOR_RULES } from "../components/cluster-access/rules";
import { rulesetRules } from "../components/change-management/index";
import {
  auditPolicy,
  authenticationConfiguration,
  controlPlaneConfig,
  renderMachineConfig,
  workerConfig,
} from "../components/talos/machine-config";
import { auditEvidence } from "../plan/audit-evidence";
import { evidenceVariable, rolloutStdin } from "../components/cluster/rollout-scripts";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { branchProtection as protectionSettings } from "../plan/change-management";
import { policyContext } from "../policy/context";
import { evaluatePolicies } from "../policy/evaluate";
import {
  OPAQUE,
  type PolicyContext,
  type PolicyResource,
  type ResourcePolicy,
  type StackOutput,
  type StackPolicy,
} from "../policy/model";
import { packResource, plainProps, recordInputs, unobservedProtection } from "../policy/pack-adapter";
import * as P from "../policy/policies";
import { readStackFile } from "../config/stack-file";
import { stackFilePath } from "./support/stacks";
import { clusterConfigInput, fakeMachineSecrets } from "./support/talos-fixtures";

const contextOf = (stack: string): PolicyContext => {
  const { config, addressPlan } = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan());
  return policyContext(config, addressPlan);
};
const production = contextOf("production");
const staging = contextOf("staging");
const test = contextOf("test");

const res = (
  type: string,
  name: string,
  props: Record<string, unknown>,
  extra: Partial<PolicyResource> = {},
): PolicyResource => ({ type, name, props, ...extra });
const rule = (name: string, props: Record<string, unknown>) =>
  res(P.TYPES.secGroupRule, name, { direction: "ingress", ethertype: "IPv4", securityGroupId: "sg", ...props });

/** Runs a resource policy the way the runner does: only where it applies. */
function judge(policy: ResourcePolicy, r: PolicyResource, ctx: PolicyContext): string[] {
  expect(policy.appliesTo(r, ctx), `${policy.name} applies to ${r.name}`).toBe(true);
  return policy.validate(r, ctx);
}
const judgeStack = (
  policy: StackPolicy,
  resources: PolicyResource[],
  ctx: PolicyContext,
  outputs: StackOutput[] = [],
) => policy.validate({ resources, outputs }, ctx).map((v) => v.message);

describe("security-group policies", () => {
  const ssh = { protocol: "tcp", portRangeMin: 22, portRangeMax: 22 };

  it("production isolation passes own and admin ranges and refuses staging, test and the internet", () => {
    expect(judge(P.productionIsolation, rule("ok", { ...ssh, remoteIpPrefix: "10.32.0.0/20" }), production)).toEqual(
      [],
    );
    expect(
      judge(P.productionIsolation, rule("admin", { ...ssh, remoteIpPrefix: "198.51.100.0/27" }), production),
    ).toEqual([]);
    expect(
      judge(P.productionIsolation, rule("from-staging", { ...ssh, remoteIpPrefix: "10.33.4.0/24" }), production),
    ).toEqual([
      "from-staging: ingress tcp/22 from 10.33.4.0/24 admits staging (10.33.0.0/16), and no configured exception covers it",
    ]);
    expect(
      judge(
        P.productionIsolation,
        rule("to-test", { direction: "egress", remoteIpPrefix: "10.0.0.0/8" }),
        production,
      )[0],
    ).toContain("admits staging (10.33.0.0/16) and test (10.34.0.0/16)");
    // Neither prefix nor remote group: OpenStack admits every address.
    expect(judge(P.productionIsolation, rule("open", ssh), production)[0]).toContain("admits the whole internet");
    expect(P.productionIsolation.appliesTo(rule("x", ssh), staging)).toBe(false);
  });

  it("a configured public exception is honoured only for its own port and never where it overlaps another environment", () => {
    const https = { protocol: "tcp", portRangeMin: 443, portRangeMax: 443 };
    const withExceptions: PolicyContext = {
      ...production,
      publicExceptions: [
        {
          name: "customer-api",
          reason: "customers reach the API",
          group: "loadbalancer",
          protocol: "tcp",
          port: 443,
          cidr: "0.0.0.0/0",
        },
        {
          name: "partner-api",
          reason: "a partner reaches the API",
          group: "loadbalancer",
          protocol: "tcp",
          port: 443,
          cidr: "11.0.0.0/8",
        },
        {
          name: "wide-probe",
          reason: "contains no supernet inside but overlaps all",
          group: "jumphost",
          protocol: "tcp",
          port: 22,
          cidr: "10.0.0.0/8",
        },
        {
          name: "staging-probe",
          reason: "probe from staging",
          group: "jumphost",
          protocol: "tcp",
          port: 22,
          cidr: "10.33.0.0/24",
        },
      ],
    };
    expect(
      judge(P.productionIsolation, rule("partner", { ...https, remoteIpPrefix: "11.0.0.0/8" }), withExceptions),
    ).toEqual([]);
    // The whole internet and 10.0.0.0/8 overlap staging and test: no exception makes them legitimate.
    expect(
      judge(P.productionIsolation, rule("api", { ...https, remoteIpPrefix: "0.0.0.0/0" }), withExceptions)[0],
    ).toContain("admits");
    expect(
      judge(P.productionIsolation, rule("wide", { ...ssh, remoteIpPrefix: "10.0.0.0/8" }), withExceptions)[0],
    ).toContain("admits staging");
    expect(
      judge(P.noForeignSupernet, rule("wide", { ...ssh, remoteIpPrefix: "10.0.0.0/8" }), withExceptions)[0],
    ).toContain("overlaps staging's supernet");
    expect(
      judge(P.productionIsolation, rule("api-ssh", { ...ssh, remoteIpPrefix: "0.0.0.0/0" }), withExceptions)[0],
    ).toContain("admits");
    expect(
      judge(P.productionIsolation, rule("probe", { ...ssh, remoteIpPrefix: "10.33.0.0/24" }), withExceptions)[0],
    ).toContain("admits staging");
    expect(
      judge(P.sourcesWithinPlan, rule("probe", { ...ssh, remoteIpPrefix: "10.33.0.0/24" }), withExceptions)[0],
    ).toContain("lies outside production's plan");
  });

  it("a source unknown at preview is a violation, not a pass", () => {
    expect(judge(P.productionIsolation, rule("later", { ...ssh, remoteIpPrefix: OPAQUE }), production)[0]).toContain(
      "not known at preview",
    );
    expect(judge(P.sourcesWithinPlan, rule("later", { ...ssh, remoteIpPrefix: OPAQUE }), production)[0]).toContain(
      "not known at preview",
    );
  });

  it("every ingress source lies in the own plan or an admin range; remote groups pass", () => {
    expect(judge(P.sourcesWithinPlan, rule("peer", { ...ssh, remoteGroupId: "sg-2" }), staging)).toEqual([]);
    expect(judge(P.sourcesWithinPlan, rule("ops", { ...ssh, remoteIpPrefix: "10.33.0.0/20" }), staging)).toEqual([]);
    expect(judge(P.sourcesWithinPlan, rule("office", { ...ssh, remoteIpPrefix: "203.0.113.0/24" }), staging)).toEqual([
      "office: source 203.0.113.0/24 lies outside staging's plan (10.33.0.0/16) and its admin ranges (198.51.100.0/27)",
    ]);
    expect(
      P.sourcesWithinPlan.appliesTo(rule("out", { direction: "egress", remoteIpPrefix: "0.0.0.0/5" }), staging),
    ).toBe(false);
  });

  it("in every environment no rule reaches another environment's supernet", () => {
    expect(
      judge(P.noForeignSupernet, rule("egress", { direction: "egress", remoteIpPrefix: "0.0.0.0/5" }), test),
    ).toEqual([]);
    expect(
      judge(P.noForeignSupernet, rule("to-prod", { direction: "egress", remoteIpPrefix: "10.32.16.0/20" }), test),
    ).toEqual(["to-prod: egress any to 10.32.16.0/20 overlaps production's supernet 10.32.0.0/16"]);
  });
});

describe("branch protection", () => {
  const settings = protectionSettings({ requiredApprovals: 1, requiredStatusChecks: ["synth"] });
  const ruleset = (overrides: Record<string, unknown> = {}, rules: Record<string, unknown> = {}) =>
    res(P.TYPES.ruleset, "ske-platform-main", {
      repository: "ske-platform",
      target: "branch",
      enforcement: "active",
      bypassActors: [],
      conditions: { refName: { includes: ["refs/heads/main"], excludes: [] } },
      rules: { ...rulesetRules(settings), ...rules },
      ...overrides,
    });
  const codeOwners = res(P.TYPES.repositoryFile, "codeowners", {
    repository: "ske-platform",
    file: ".github/CODEOWNERS",
  });

  it("the program's own ruleset with its CODEOWNERS file passes", () => {
    expect(judgeStack(P.branchProtection, [ruleset(), codeOwners], production)).toEqual([]);
  });

  it("bypass actors, self-approval of the last push, force pushes and a missing CODEOWNERS are caught", () => {
    const weak = ruleset(
      { bypassActors: [{ actorId: 1, actorType: "OrganizationAdmin", bypassMode: "always" }] },
      {
        nonFastForward: false,
        pullRequest: { ...(rulesetRules(settings).pullRequest as object), requireLastPushApproval: false },
      },
    );
    expect(judgeStack(P.branchProtection, [weak], production)).toEqual([
      "ruleset ske-platform-main: lets the author of the last push approve it (requireLastPushApproval is off)",
      "ruleset ske-platform-main: has bypass actors",
      "ruleset ske-platform-main: allows force pushes",
      "ruleset ske-platform-main: requires code-owner review but no CODEOWNERS file is managed for ske-platform, so any reviewer counts",
    ]);
  });

  it("the stack that owns repository settings must declare a ruleset", () => {
    expect(judgeStack(P.branchProtection, [], production)).toEqual([
      "production owns the repository settings but declares no RepositoryRuleset for main",
    ]);
    expect(judgeStack(P.branchProtection, [], staging)).toEqual([]);
  });
});

describe("auditor roles", () => {
  const role = (rules: unknown) =>
    res(P.TYPES.clusterRole, "auditor-role", { metadata: { name: "ske-auditor-read-only" }, rules });
  const binding = res(P.TYPES.clusterRoleBinding, "auditors", {
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "ske-auditor-read-only" },
    subjects: [{ kind: "Group", name: "zitadel:auditors" }],
  });

  it("the cluster-access read-only role passes", () => {
    expect(judgeStack(P.auditorReadOnly, [role(AUDITOR_RULES), binding], production)).toEqual([]);
  });

  it("write verbs, Secrets and exec are caught, as is a binding to an undefined role", () => {
    const bad = role([
      { apiGroups: [""], resources: ["pods", "pods/exec"], verbs: ["get", "create"] },
      { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
    ]);
    expect(judgeStack(P.auditorReadOnly, [bad, binding], production)).toEqual([
      'auditor-role (bound to zitadel:auditors by auditors): rule 0 (core): verb "create" is not read-only',
      'auditor-role (bound to zitadel:auditors by auditors): rule 0 (core): "pods" is never readable by auditors',
      'auditor-role (bound to zitadel:auditors by auditors): rule 0 (core): "pods/exec" is never readable by auditors',
      'auditor-role (bound to zitadel:auditors by auditors): rule 1 (core): "secrets" is never readable by auditors',
    ]);
    expect(judgeStack(P.auditorReadOnly, [binding], production)[0]).toContain("which this stack does not define");
  });

  it("ConfigMaps and kinds with inline pod specs are caught, in the core, apps and batch groups", () => {
    const indirect = role([
      { apiGroups: [""], resources: ["configmaps", "services"], verbs: ["get"] },
      { apiGroups: ["apps"], resources: ["deployments"], verbs: ["list"] },
      { apiGroups: ["batch"], resources: ["cronjobs"], verbs: ["watch"] },
      { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
    ]);
    expect(judgeStack(P.auditorReadOnly, [indirect, binding], production)).toEqual([
      'auditor-role (bound to zitadel:auditors by auditors): rule 0 (core): "configmaps" is never readable by auditors',
      'auditor-role (bound to zitadel:auditors by auditors): rule 1 (apps): "deployments" is never readable by auditors',
      'auditor-role (bound to zitadel:auditors by auditors): rule 2 (batch): "cronjobs" is never readable by auditors',
      'auditor-role (bound to zitadel:auditors by auditors): rule 3 (core): "pods" is never readable by auditors',
    ]);
  });

  it("judges a bound role by the same definition of read-only as components/cluster-access: logs, proxies and wildcards too", () => {
    const wide = role([
      { apiGroups: ["*"], resources: ["pods/log"], verbs: ["get"] },
      { apiGroups: [""], resources: ["services/proxy", "nodes"], verbs: ["get"] },
    ]);
    expect(judgeStack(P.auditorReadOnly, [wide, binding], production)).toEqual([
      'auditor-role (bound to zitadel:auditors by auditors): rule 0 (*): wildcard API group "*"',
      'auditor-role (bound to zitadel:auditors by auditors): rule 0 (*): "pods/log" is never readable by auditors',
      'auditor-role (bound to zitadel:auditors by auditors): rule 1 (core): "services/proxy" is never readable by auditors',
    ]);
  });

  it("Argo CD maps auditors only to role:ske-auditor, which reads without logs or exec", () => {
    const argo = (csv: string) =>
      res(P.TYPES.helmRelease, "argocd", { chart: "argo-cd", values: { configs: { rbac: { "policy.csv": csv } } } });
    const values = argoCdValues({
      url: "https://localhost:8080",
      sso: {
        issuer: "https://id",
        clientId: "c",
        groupsClaim: "groups",
        platformGroup: "platform-team",
        auditorGroup: "auditors",
        requireMfa: true,
      },
    });
    const csv = values.configs.rbac["policy.csv"];
    expect(judgeStack(P.auditorReadOnly, [argo(csv)], production)).toEqual([]);
    expect(
      judgeStack(
        P.auditorReadOnly,
        [argo(csv.replace("g, auditors, role:ske-auditor", "g, auditors, role:readonly"))],
        production,
      ),
    ).toEqual(["Argo CD maps auditors to role:readonly, not role:ske-auditor"]);
    expect(
      judgeStack(P.auditorReadOnly, [argo(`${csv}p, role:ske-auditor, logs, get, */*, allow\n`)], production),
    ).toEqual(["role:ske-auditor is granted get on logs"]);
    expect(
      judgeStack(P.auditorReadOnly, [argo(`${csv}p, role:ske-auditor, exec, create, */*, allow\n`)], production),
    ).toEqual([
      "role:ske-auditor is granted create on exec",
      "role:ske-auditor is granted create on exec, not only get",
    ]);
    expect(judgeStack(P.auditorReadOnly, [argo(`${csv}g, role:ske-auditor, role:readonly\n`)], production)).toEqual([
      "role:ske-auditor inherits role:readonly",
    ]);
    expect(judgeStack(P.auditorReadOnly, [argo("g, auditors, role:ske-auditor\n")], production)).toEqual([
      "role:ske-auditor is not defined in policy.csv, so what auditors can do cannot be checked",
    ]);
  });
});

describe("Argo CD", () => {
  const release = (values: unknown) => res(P.TYPES.helmRelease, "argocd", { chart: "argo-cd", values });

  it("a ClusterIP server without ingress passes; LoadBalancer, ingress and NodePort services are caught", () => {
    expect(
      judge(
        P.argoCdNotPublic,
        release({ server: { service: { type: "ClusterIP" }, ingress: { enabled: false } } }),
        production,
      ),
    ).toEqual([]);
    expect(
      judge(
        P.argoCdNotPublic,
        release({ server: { service: { type: "LoadBalancer" }, ingress: { enabled: true } } }),
        production,
      ),
    ).toEqual([
      "argocd: server.service.type is LoadBalancer",
      "argocd: server.ingress.enabled is true",
      "argocd: server.service.type must be set to ClusterIP explicitly (chart defaults change between versions)",
    ]);
    const service = res(P.TYPES.service, "argocd-np", {
      metadata: { namespace: "argocd" },
      spec: { type: "NodePort" },
    });
    expect(judge(P.argoCdNotPublic, service, production)).toEqual([
      "Service argocd-np in Argo CD's namespace is NodePort",
    ]);
  });

  it("AppProjects target only their own environment", () => {
    const project = (destinations: unknown[]) => res(P.TYPES.appProject, "project", { spec: { destinations } });
    expect(
      judge(
        P.appProjectDestinations,
        project([
          { server: "https://kubernetes.default.svc", namespace: "*" },
          { server: "https://10.32.16.8:6443", namespace: "*" },
        ]),
        production,
      ),
    ).toEqual([]);
    expect(
      judge(
        P.appProjectDestinations,
        project([
          { server: "https://10.33.0.8:6443", namespace: "*" },
          { server: "*", namespace: "*" },
        ]),
        production,
      ),
    ).toEqual([
      "project: destination https://10.33.0.8:6443 lies outside production's supernet 10.32.0.0/16",
      "project: a wildcard destination reaches every registered cluster",
    ]);
  });
});

describe("audit policy and OIDC in the Talos machine config", () => {
  const secrets = fakeMachineSecrets;
  const input = clusterConfigInput();
  const goodEvidence = auditEvidence(auditPolicy(), authenticationConfiguration(input.oidc, input.kubernetesVersion));
  // The evidence and the config it describes ride on the node's apply-config roll-out step (policy/applied-evidence.ts).
  const node = (name: string, machineConfig: unknown, evidence: Record<string, unknown> = goodEvidence) =>
    res("command:local:Command", `${name}-apply-config`, {
      environment: {
        SKE_NODE_NAME: name,
        SKE_NODE_ROLE: name.startsWith("cp-") ? "controlplane" : "worker",
        ...(name.startsWith("cp-")
          ? Object.fromEntries(Object.entries(evidence).map(([field, value]) => [evidenceVariable(field), value]))
          : {}),
      },
      stdin:
        typeof machineConfig === "string" && machineConfig !== OPAQUE
          ? rolloutStdin("talosconfig", machineConfig)
          : OPAQUE,
    });
  const controlPlane = renderMachineConfig(controlPlaneConfig(input, secrets));
  const edited = (edit: (config: any) => void) => {
    const config = parse(controlPlane);
    edit(config);
    return stringify(config);
  };

  it("the rendered control-plane config and its recorded evidence pass; workers are not judged", () => {
    expect(judge(P.apiServerAudit, node("cp-0", controlPlane), production)).toEqual([]);
    const worker = node("worker-0", renderMachineConfig(workerConfig(input, secrets)));
    expect(P.apiServerAudit.appliesTo(worker, production)).toBe(false);
  });

  it("a None rule, a kept RequestReceived stage and missing OIDC are caught, and so is evidence that no longer matches", () => {
    const weak = edited((c) => {
      c.cluster.apiServer.auditPolicy.omitStages = [];
      c.cluster.apiServer.auditPolicy.rules.unshift({ level: "None" });
      delete c.cluster.apiServer.extraArgs["authentication-config"];
    });
    const problems = judge(P.apiServerAudit, node("cp-0", weak), production);
    expect(problems).toEqual(
      expect.arrayContaining([
        "cp-0: an audit rule logs below Metadata (lowest level: None)",
        "cp-0: the audit policy does not omit the RequestReceived stage",
        "cp-0: OIDC is not configured",
        "cp-0: the apply-config step's evidence says audit-omit-stages=RequestReceived but the machine config it applies has ",
      ]),
    );
  });

  it("another issuer, or MFA not enforced, is caught", () => {
    expect(
      judge(P.apiServerAudit, node("cp-0", controlPlane), {
        ...production,
        oidc: { issuer: "https://other.example", requireMfa: true },
      }),
    ).toEqual(["cp-0: the API server trusts https://id.ske.example.net, not https://other.example"]);
    const noMfaInput = { ...input, oidc: { ...input.oidc, requireMfa: false } };
    const noMfa = renderMachineConfig(controlPlaneConfig(noMfaInput, secrets));
    const noMfaEvidence = auditEvidence(
      auditPolicy(),
      authenticationConfiguration(noMfaInput.oidc, input.kubernetesVersion),
    );
    expect(judge(P.apiServerAudit, node("cp-0", noMfa, noMfaEvidence), production)).toEqual([
      "cp-0: MFA is required but no claim validation rule checks it",
    ]);
  });

  it("on a first preview, with the machine config unknown, the recorded evidence is judged", () => {
    expect(judge(P.apiServerAudit, node("cp-0", OPAQUE), production)).toEqual([]);
    expect(
      judge(P.apiServerAudit, node("cp-0", OPAQUE, { ...goodEvidence, "audit-omit-stages": "" }), production),
    ).toEqual(["cp-0: the audit policy does not omit the RequestReceived stage"]);
    expect(judge(P.apiServerAudit, node("cp-0", OPAQUE, {}), production)).toEqual([
      "cp-0: no audit or OIDC evidence recorded",
    ]);
  });

  it("evidence that is itself unknown at preview is a violation, not a pass", () => {
    expect(
      judge(P.apiServerAudit, node("cp-0", OPAQUE, { ...goodEvidence, "oidc-issuers": OPAQUE }), production)[0],
    ).toContain("not known at preview");
  });

  it("the pack adapter turns an unknown value into OPAQUE instead of letting the policy degrade to advisory", () => {
    const UNKNOWN_STRING = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
    const environment = {
      SKE_NODE_NAME: "cp-0",
      SKE_NODE_ROLE: "controlplane",
      ...Object.fromEntries(Object.entries(goodEvidence).map(([f, v]) => [evidenceVariable(f), v])),
      SKE_EVIDENCE_OIDC_ISSUERS: UNKNOWN_STRING,
    };
    const proxied = unknownCheckingProxy({ environment, stdin: UNKNOWN_STRING });
    expect(() => (proxied as Record<string, unknown>).stdin).toThrow();
    const props = plainProps(proxied) as Record<string, any>;
    expect(props.stdin).toBe(OPAQUE);
    expect(props.environment.SKE_EVIDENCE_OIDC_ISSUERS).toBe(OPAQUE);
    expect(judge(P.apiServerAudit, res("command:local:Command", "cp-0-apply-config", props), production)[0]).toContain(
      "not known at preview",
    );
  });
});

describe("production protection", () => {
  const cp = (opts: PolicyResource["opts"]) =>
    res(
      P.TYPES.instance,
      "production-osl2-mgmt-cp-0",
      { metadata: { cluster: "production-osl2-mgmt", role: "management" }, userData: OPAQUE },
      { opts },
    );
  const key = (opts: PolicyResource["opts"]) =>
    res(
      "tls:index/privateKey:PrivateKey",
      "etcd-ca-key",
      {},
      {
        opts,
        urn: "urn:pulumi:production::ske-platform::ske:cluster:Cluster$ske:talos:MachineSecrets$tls:index/privateKey:PrivateKey::etcd-ca-key",
      },
    );

  it("protected control planes and machine secrets pass; unprotected ones are caught", () => {
    expect(judge(P.productionProtected, cp({ protect: true, retainOnDelete: true }), production)).toEqual([]);
    expect(judge(P.productionProtected, key({ protect: true, retainOnDelete: true }), production)).toEqual([]);
    expect(judge(P.productionProtected, cp({ protect: true, retainOnDelete: false }), production)).toEqual([
      "production-osl2-mgmt-cp-0 lacks retainOnDelete",
    ]);
    expect(judge(P.productionProtected, key({ protect: false, retainOnDelete: false }), production)).toEqual([
      "etcd-ca-key lacks protect and retainOnDelete",
    ]);
    expect(P.productionProtected.appliesTo(key({ protect: false, retainOnDelete: false }), test)).toBe(false);
  });

  it("the pack, which is not given retainOnDelete, judges protect alone and says so; synth, which sees it, still fails it", () => {
    const view = (protect: boolean) =>
      packResource(
        {
          type: P.TYPES.instance,
          name: "production-osl2-mgmt-cp-0",
          urn: "urn:pulumi:production::ske-platform::openstack:compute/instance:Instance::production-osl2-mgmt-cp-0",
          props: { metadata: { cluster: "production-osl2-mgmt", role: "management" } },
          opts: { protect },
        },
        "inputs",
      );
    expect(view(true).unobservedOpts).toEqual(["retainOnDelete"]);
    expect(judge(P.productionProtected, view(true), production)).toEqual([]);
    // Protection off: protect is off too, and the pack still fails it.
    expect(judge(P.productionProtected, view(false), production)).toEqual(["production-osl2-mgmt-cp-0 lacks protect"]);
    // What synth records for the same resource without retainOnDelete.
    expect(judge(P.productionProtected, cp({ protect: true, retainOnDelete: false }), production)).toEqual([
      "production-osl2-mgmt-cp-0 lacks retainOnDelete",
    ]);
    expect(unobservedProtection([view(true)], production)).toMatch(
      /^retainOnDelete NOT checked by this pack on 1 stateful resource\(s\) \(e\.g\. production-osl2-mgmt-cp-0\).*Synth's production-state-protected, a required check, enforces both\.$/,
    );
    expect(unobservedProtection([view(true)], test)).toBeUndefined();
    // A runner that passes retainOnDelete is judged on it.
    const seen = packResource(
      {
        type: P.TYPES.instance,
        name: "production-osl2-mgmt-cp-0",
        urn: "urn:x",
        props: { metadata: { cluster: "production-osl2-mgmt", role: "management" } },
        opts: { protect: true, retainOnDelete: false },
      },
      "inputs",
    );
    expect(seen.unobservedOpts).toBeUndefined();
    expect(judge(P.productionProtected, seen, production)).toEqual(["production-osl2-mgmt-cp-0 lacks retainOnDelete"]);
  });

  it("the pack judges a resource's inputs where the provider returned no state at preview (a kubernetes provider whose kubeconfig is unknown)", () => {
    const urn =
      "urn:pulumi:production::ske-platform::kubernetes:batch/v1:CronJob::production-osl2-ops-etcd-backup-cronjob";
    recordInputs(urn, { spec: { schedule: "0 * * * *" } });
    const state = packResource(
      {
        type: "kubernetes:batch/v1:CronJob",
        name: "production-osl2-ops-etcd-backup-cronjob",
        urn,
        props: {},
        opts: { protect: false },
      },
      "state",
    );
    expect(state.props).toEqual({ spec: { schedule: "0 * * * *" } });
    expect(state.computed).toEqual([]);
  });
});

describe("credentials in stack outputs", () => {
  const out = (path: string, secret: boolean | undefined, value: unknown): StackOutput => ({ path, secret, value });

  it("secret credentials and plain non-credentials pass; a plain kubeconfig or key is caught", () => {
    expect(
      judgeStack(P.noPlainCredentials, [], production, [
        out("clusters.a.kubeconfig", true, "[secret]"),
        out("clusters.a.endpoint", false, "https://10.32.0.8:6443"),
      ]),
    ).toEqual([]);
    expect(
      judgeStack(P.noPlainCredentials, [], production, [
        out("clusters.a.kubeconfig", false, "apiVersion: v1"),
        out("debug", false, "-----BEGIN EC PRIVATE KEY-----\nx\n-----END EC PRIVATE KEY-----"),
      ]),
    ).toEqual([
      "stack output clusters.a.kubeconfig is a credential in plain text",
      "stack output debug is a credential in plain text",
    ]);
  });

  it("where secrecy cannot be observed, a credential-shaped output is still reported", () => {
    expect(
      judgeStack(P.noPlainCredentials, [], production, [out("clusters.a.talosconfig", undefined, "context: a")]),
    ).toEqual(["stack output clusters.a.talosconfig looks like a credential and its secrecy cannot be observed here"]);
  });
});

describe("test environment (advisory)", () => {
  const node = (tags: string[], extra: Record<string, unknown> = {}) =>
    res(P.TYPES.instance, "test-osl2-ops-cp-0", {
      metadata: { cluster: "test-osl2-ops", role: "ops" },
      tags,
      ...extra,
    });

  it("a tagged node with test-only references passes; an untagged node pointing at production is reported", () => {
    expect(judge(P.testEnvironmentHygiene, node(["environment:test"]), test)).toEqual([]);
    expect(
      judge(P.testEnvironmentHygiene, node([], { description: "restore from https://10.32.0.9/backup" }), test),
    ).toEqual([
      "test-osl2-ops-cp-0 is not tagged environment:test",
      "test-osl2-ops-cp-0: description holds production address 10.32.0.9",
    ]);
  });

  it("is advisory: its findings never make the run fail", () => {
    const [result] = evaluatePolicies({ resources: [node([])], outputs: [] }, test, [P.testEnvironmentHygiene]);
    expect(result).toMatchObject({ status: "advisory", enforcement: "advisory" });
    const [mandatory] = evaluatePolicies(
      { resources: [rule("r", { remoteIpPrefix: "10.32.0.0/16" })], outputs: [] },
      test,
      [P.noForeignSupernet],
    );
    expect(mandatory).toMatchObject({ status: "fail", control: "6.5-testing" });
  });
});

it("every policy names its control, level, description and remediation", () => {
  for (const policy of P.POLICIES) {
    expect(["6.1", "6.2", "6.3/6.4", "6.5-audit", "6.5-testing"]).toContain(policy.control);
    expect(policy.enforcement === "mandatory" || policy.name === P.testEnvironmentHygiene.name, policy.name).toBe(true);
    expect(policy.description.length).toBeGreaterThan(20);
    expect(policy.remediation.length).toBeGreaterThan(20);
  }
});
