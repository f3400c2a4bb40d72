import { beforeAll, describe, expect, it } from "vitest";
import {
  CHART_RESOURCES,
  CONTROL_PLANE_DAEMONSETS,
  CONTROL_PLANE_DAEMONSET_BUDGET,
  cpuMillis,
  memoryMi,
  resourceProblems,
  withResources,
} from "../plan/workload-resources";
import {
  auditTrailAdmissionGuard,
  collectorLeastPrivilege,
  platformNotClusterAdmin,
  podsCannotReachMetadata,
  workloadsSetResources,
} from "../policy/least-privilege";
import { at, type PolicyContext, type PolicyResource } from "../policy/model";
import { evaluatePolicies } from "../policy/evaluate";
import { policyContext } from "../policy/context";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { readStackFile } from "../config/stack-file";
import { policyResources } from "../synth/policy-input";
import { STACKS, stackFilePath, synthOk, synthStack, variantFile } from "./support/stacks";

const POLICIES = [
  platformNotClusterAdmin,
  collectorLeastPrivilege,
  auditTrailAdmissionGuard,
  podsCannotReachMetadata,
  workloadsSetResources,
];
const contextOf = (stack: string): PolicyContext => {
  const { config, addressPlan } = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan());
  return policyContext(config, addressPlan);
};

let resources: PolicyResource[];
const ctx = contextOf("production");
const judge = (list: PolicyResource[], context = ctx) =>
  evaluatePolicies({ resources: list, outputs: [] }, context, POLICIES).flatMap((r) =>
    r.violations.map((v) => `${r.name}: ${v.message}`),
  );
const edited = (edit: (list: PolicyResource[]) => PolicyResource[] | void) => {
  const copy = structuredClone(resources);
  return edit(copy) ?? copy;
};
const find = (list: PolicyResource[], type: string, name: RegExp) =>
  list.find((r) => r.type.endsWith(type) && name.test(r.name))!;

beforeAll(async () => {
  const run = await synthOk("production");
  resources = policyResources(run.resources, new Map(), "production");
}, 60_000);

describe.each(STACKS)("the committed %s stack", (stack) => {
  it("passes every least-privilege policy, each having something to judge", async () => {
    const run = await synthOk(stack);
    const results = run.compliance.results.filter((r) => POLICIES.some((p) => p.name === r.name));
    expect(results.map((r) => [r.name, r.status])).toEqual(POLICIES.map((p) => [p.name, "pass"]));
    expect(run.compliance.report).toMatch(
      /\| `releases-set-resources` \| mandatory \| PASS \| \d+ resources checked \|/,
    );
  }, 60_000);

  it("installs the metadata deny policy in every cluster after Cilium, which brings its CRD", async () => {
    const run = await synthOk(stack);
    const ciliums = run.resources.filter(
      (r) => r.type === "kubernetes:helm.sh/v3:Release" && r.inputs["chart"] === "cilium",
    );
    expect(ciliums.length).toBeGreaterThan(0);
    for (const cilium of ciliums) {
      const cluster = cilium.name.replace(/-cilium$/, "");
      const block = run.resources.find((r) => r.name === `${cluster}-deny-instance-metadata`)!;
      expect(block.type).toBe("kubernetes:cilium.io/v2:CiliumClusterwideNetworkPolicy");
      expect(block.provider).toBe(cilium.provider);
      expect(block.options.dependsOn).toContain(cilium.name);
      expect((block.inputs["spec"] as any).egressDeny).toEqual([
        { toCIDR: ["169.254.169.254/32", "fe80::a9fe:a9fe/128"] },
      ]);
    }
  }, 60_000);
});

describe("platform-role-not-cluster-admin", () => {
  const binding = (role: string, group: string): PolicyResource => ({
    type: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
    name: "x-platform-admin",
    props: {
      metadata: { name: "x" },
      roleRef: { kind: "ClusterRole", name: role },
      subjects: [{ kind: "Group", name: group }],
    },
  });

  it.each(["admin", "edit", "cluster-admin"])("fails when the platform group is bound to %s", (role) => {
    expect(judge([...resources, binding(role, "zitadel:platform-team")])).toEqual([
      `platform-role-not-cluster-admin: x-platform-admin gives Group zitadel:platform-team the built-in ${role} role`,
    ]);
  });

  it("fails the break-glass binding when the apiserver does not require MFA", () => {
    const noMfa = { ...ctx, oidc: { ...ctx.oidc, requireMfa: false } };
    expect(judge(resources, noMfa)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /makes zitadel:platform-break-glass cluster-admin while the apiserver does not require MFA/,
        ),
      ]),
    );
  });

  it("fails a cluster-wide role of the platform group that reaches Secrets or impersonates", () => {
    const widened = edited((list) => {
      const role = list.find(
        (r) => r.type.endsWith(":ClusterRole") && at(r.props, ["metadata", "name"]) === "ske-platform-read-only",
      )!;
      (role.props.rules as any[]).push(
        { apiGroups: [""], resources: ["secrets"], verbs: ["get"] },
        { apiGroups: [""], resources: ["users"], verbs: ["impersonate"] },
      );
    });
    expect(judge(widened).join("\n")).toMatch(/cluster-wide for zitadel:platform-team by .*secrets[\s\S]*impersonate/);
  });
});

describe("audit-collector-least-privilege", () => {
  const collector = (list: PolicyResource[]) =>
    find(list, ":Release", /audit-collector-vector$/) as PolicyResource & { props: { values: any } };

  it.each([
    [
      "the chart's default host mounts",
      (v: any) => {
        delete v.defaultVolumes;
      },
      /defaultVolumes must be set to \[\]/,
    ],
    [
      "host /var/lib",
      (v: any) => {
        v.extraVolumes.push({ name: "var-lib", hostPath: { path: "/var/lib" } });
      },
      /mounts host \/var\/lib/,
    ],
    [
      "a writable audit-log mount",
      (v: any) => {
        v.extraVolumeMounts[0].readOnly = false;
      },
      /is not read-only/,
    ],
    [
      "a hostPath data dir",
      (v: any) => {
        v.persistence = { hostPath: { path: "/var/lib/vector" } };
      },
      /persistence.hostPath.enabled must be false/,
    ],
    [
      "root",
      (v: any) => {
        v.podSecurityContext.runAsUser = 0;
      },
      /runs as root/,
    ],
    [
      "a capability",
      (v: any) => {
        v.securityContext.capabilities.add = ["DAC_READ_SEARCH"];
      },
      /adds capabilities DAC_READ_SEARCH/,
    ],
    [
      "a writable root filesystem",
      (v: any) => {
        v.securityContext.readOnlyRootFilesystem = false;
      },
      /readOnlyRootFilesystem must be true/,
    ],
    [
      "capabilities kept (no drop of ALL)",
      (v: any) => {
        v.securityContext.capabilities.drop = ["NET_RAW"];
      },
      /capabilities.drop must include ALL/,
    ],
    [
      "privilege escalation allowed",
      (v: any) => {
        v.securityContext.allowPrivilegeEscalation = true;
      },
      /allowPrivilegeEscalation must be false/,
    ],
  ] as const)("fails on %s", (_what, edit, message) => {
    const list = edited((l) => {
      edit(collector(l).props.values);
    });
    expect(judge(list).join("\n")).toMatch(message);
  });
});

describe("audit-trail-admission-guard and pods-cannot-reach-metadata", () => {
  it("fail when a cluster loses its audit-trail guard or lets it fail open", () => {
    const without = edited((l) =>
      l.filter(
        (r) =>
          !(r.type.endsWith(":ValidatingAdmissionPolicy") && /production-osl2-mgmt-audit-trail-guard/.test(r.name)),
      ),
    );
    expect(judge(without)).toEqual([
      "audit-trail-admission-guard: production-osl2-mgmt has a collector but no admission policy and binding production-osl2-mgmt-audit-trail-guard",
    ]);
    const failOpen = edited((l) => {
      (
        find(l, ":ValidatingAdmissionPolicy", /production-sto2-mgmt-collector-pod-shape/).props.spec as any
      ).failurePolicy = "Ignore";
    });
    expect(judge(failOpen)).toEqual([
      "audit-trail-admission-guard: production-sto2-mgmt-collector-pod-shape must fail closed (failurePolicy Fail)",
    ]);
  });

  it("fail when a cluster's pods can reach the metadata service", () => {
    const without = edited((l) => l.filter((r) => !r.name.endsWith("production-osl2-ops-deny-instance-metadata")));
    expect(judge(without)).toEqual([
      "pods-cannot-reach-metadata: production-osl2-ops: pods can reach 169.254.169.254/32; no deny policy",
    ]);
    const narrowed = edited((l) => {
      (find(l, ":CiliumClusterwideNetworkPolicy", /production-sto2-mgmt/).props.spec as any).endpointSelector = {
        matchLabels: { app: "x" },
      };
    });
    expect(judge(narrowed)).toEqual([
      "pods-cannot-reach-metadata: production-sto2-mgmt-deny-instance-metadata does not select every pod",
    ]);
  });
});

describe("releases-set-resources", () => {
  it("fails a release whose planned workload lost its resources, and a chart nobody planned", () => {
    const stripped = edited((l) => {
      delete (find(l, ":Release", /-argocd-argocd$/).props.values as any).controller.resources;
    });
    expect(judge(stripped)).toEqual([
      "releases-set-resources: production-argocd-argocd: argo-cd: controller.resources lacks requests.cpu, requests.memory, limits.cpu, limits.memory",
    ]);
    const unknown = edited((l) => {
      find(l, ":Release", /-grafana-grafana$/).props.chart = "kube-prometheus-stack";
    });
    expect(judge(unknown).join()).toMatch(/chart "kube-prometheus-stack" has no planned requests and limits/);
  });

  it("fails a workload the program would create without limits", () => {
    const deployment: PolicyResource = {
      type: "kubernetes:apps/v1:Deployment",
      name: "debug",
      props: {
        spec: {
          template: {
            spec: { containers: [{ name: "shell", resources: { requests: { cpu: "10m", memory: "8Mi" } } }] },
          },
        },
      },
    };
    expect(judge([...resources, deployment])).toEqual([
      "releases-set-resources: debug: container shell lacks CPU/memory requests or limits",
    ]);
  });

  it("plans every path of every chart completely, and withResources sets them all", () => {
    for (const chart of Object.keys(CHART_RESOURCES)) {
      expect(resourceProblems(chart, withResources(chart, {}))).toEqual([]);
      expect(resourceProblems(chart, {}).length).toBe(CHART_RESOURCES[chart]!.length);
      for (const { resources: r } of CHART_RESOURCES[chart]!) {
        expect(cpuMillis(r.limits.cpu)).toBeGreaterThanOrEqual(cpuMillis(r.requests.cpu));
        expect(memoryMi(r.limits.memory)).toBeGreaterThanOrEqual(memoryMi(r.requests.memory));
      }
    }
    expect(() => withResources("unplanned", {})).toThrow(/no requests and limits are planned for chart "unplanned"/);
  });

  it("keeps what the platform adds to a control-plane node within its budget", () => {
    const entry = (chart: string, path: readonly string[]) =>
      CHART_RESOURCES[chart]!.find((e) => e.path.join(".") === path.join("."))!.resources;
    const cpu = CONTROL_PLANE_DAEMONSETS.reduce((sum, d) => sum + cpuMillis(entry(d.chart, d.path).requests.cpu), 0);
    const memory = CONTROL_PLANE_DAEMONSETS.reduce(
      (sum, d) => sum + memoryMi(entry(d.chart, d.path).requests.memory),
      0,
    );
    expect(cpu).toBeLessThanOrEqual(CONTROL_PLANE_DAEMONSET_BUDGET.cpuMillis);
    expect(memory).toBeLessThanOrEqual(CONTROL_PLANE_DAEMONSET_BUDGET.memoryMi);
  });
});

describe("the break-glass group in config", () => {
  it.each(["platformGroup", "auditorGroup"])(
    "refuses a break-glass group equal to %s, naming the key and file",
    async (key) => {
      const file = variantFile("test", (c) => {
        c["ske-platform:zitadel"].breakGlassGroup = c["ske-platform:zitadel"][key];
      });
      const result = await synthStack("test", file);
      expect(result.ok).toBe(false);
      expect(!result.ok && result.error).toContain(
        "Pulumi.test.yaml: ske-platform:zitadel.breakGlassGroup: the break-glass group must be a group of its own",
      );
    },
  );
});
