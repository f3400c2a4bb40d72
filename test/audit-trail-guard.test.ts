import { beforeAll, describe, expect, it } from "vitest";
import {
  INGEST_CA_CONFIGMAP,
  INGEST_CA_DIR,
  INGEST_CA_KEY,
  TALOS_AUDIT_LOG_DIR,
  collectorValues,
} from "../components/audit-trail";
import { ADMIN_GROUP } from "../components/cluster";
import {
  COLLECTOR_GUARD_NAME,
  COLLECTOR_POD_SHAPE_NAME,
  collectorGuardBinding,
  collectorGuardPolicy,
  collectorGuardProblems,
  collectorPodShapePolicy,
} from "../components/cluster-access";
import { clusterAccessArgs } from "../stacks/cluster-access";
import { admit, type AdmissionRequest } from "./support/admission";
import { loadStack, runGitOps, type GitOpsRun } from "./support/gitops-fixture";
import { STACKS, ofType } from "./support/stacks";

const { loaded, plan } = loadStack("production");
const groups = { platform: "zitadel:platform-team", auditors: "zitadel:auditors" };
const argsFor = (role: "ops" | "management") =>
  clusterAccessArgs({
    cluster: plan.clusters.find((c) => c.role === role)!,
    config: loaded.config,
    groups,
    auditNamespaces: ["audit-collector", "audit-logs"],
  });
const breakGlass = `zitadel:${loaded.config.zitadel.breakGlassGroup}`;

describe("the audit-trail guard (ValidatingAdmissionPolicy), evaluated as CEL", () => {
  const management = collectorGuardPolicy(argsFor("management").auditTrailGuard);
  const ops = collectorGuardPolicy(argsFor("ops").auditTrailGuard);
  const change = (who: Partial<AdmissionRequest>, what: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
    operation: "UPDATE",
    resource: "daemonsets",
    apiGroup: "apps",
    username: "someone",
    groups: [],
    ...what,
    ...who,
  });
  const platformMember = { username: "zitadel:alice", groups: [groups.platform, "system:authenticated"] };

  it.each([
    ["update the collector DaemonSet", { operation: "UPDATE", resource: "daemonsets", apiGroup: "apps" }],
    ["delete the archive credentials", { operation: "DELETE", resource: "secrets", apiGroup: "" }],
    ["rewrite the collector's config", { operation: "UPDATE", resource: "configmaps", apiGroup: "" }],
    ["delete the audit namespace", { operation: "DELETE", resource: "namespaces", apiGroup: "" }],
    ["exec into the collector", { operation: "CONNECT", resource: "pods/exec", apiGroup: "" }],
    ["add a debug container", { operation: "UPDATE", resource: "pods/ephemeralcontainers", apiGroup: "" }],
    ["bind a role there", { operation: "CREATE", resource: "rolebindings", apiGroup: "rbac.authorization.k8s.io" }],
  ] as [string, Partial<AdmissionRequest>][])("refuses the platform group to %s", (_what, what) => {
    expect(admit(management, change(platformMember, what))).toEqual([
      expect.stringMatching(/deploy identity, the GitOps controller or the break-glass group/),
    ]);
  });

  it("refuses other service accounts, even in kube-system", () => {
    expect(
      admit(
        management,
        change({ username: "system:serviceaccount:kube-system:cilium", groups: ["system:serviceaccounts"] }),
      ),
    ).toHaveLength(1);
  });

  it("admits the deploy identity and the break-glass group, including exec for break-glass", () => {
    expect(admit(management, change({ username: "ske-platform", groups: [ADMIN_GROUP] }))).toEqual([]);
    expect(
      admit(
        management,
        change(
          { username: "zitadel:bob", groups: [breakGlass] },
          { operation: "CONNECT", resource: "pods/exec", apiGroup: "" },
        ),
      ),
    ).toEqual([]);
  });

  it("admits the GitOps controller of each cluster to change, not to exec or debug", () => {
    const manager = { username: "system:serviceaccount:kube-system:argocd-manager" };
    expect(admit(management, change(manager))).toEqual([]);
    expect(
      admit(management, change(manager, { operation: "CONNECT", resource: "pods/exec", apiGroup: "" })),
    ).toHaveLength(1);
    expect(admit(management, change(manager, { resource: "pods/ephemeralcontainers", apiGroup: "" }))).toHaveLength(1);
    const controller = {
      username: `system:serviceaccount:${loaded.config.argocd.namespace}:argocd-application-controller`,
    };
    expect(admit(ops, change(controller))).toEqual([]);
    // The ops cluster's controller identity is not accepted in a management cluster, nor the reverse.
    expect(admit(management, change(controller))).toHaveLength(1);
    expect(admit(ops, change(manager))).toHaveLength(1);
  });

  it("lets Kubernetes' namespace controllers keep the namespace working", () => {
    expect(
      admit(
        management,
        change(
          { username: "system:serviceaccount:kube-system:root-ca-cert-publisher" },
          { operation: "CREATE", resource: "configmaps", apiGroup: "" },
        ),
      ),
    ).toEqual([]);
    expect(
      admit(
        management,
        change(
          { username: "system:serviceaccount:kube-system:namespace-controller" },
          { operation: "DELETE", resource: "secrets", apiGroup: "" },
        ),
      ),
    ).toEqual([]);
  });

  it("is bound to the audit namespaces, namespace objects included", () => {
    const binding = collectorGuardBinding(argsFor("ops").auditTrailGuard);
    expect(binding.matchResources.namespaceSelector.matchExpressions).toEqual([
      { key: "kubernetes.io/metadata.name", operator: "In", values: ["audit-collector", "audit-logs"] },
    ]);
    expect(binding.validationActions).toContain("Deny");
    expect(management.failurePolicy).toBe("Fail");
  });

  it.each([
    ["a wildcard group", { allowedGroups: ["*"] }, /"\*" names more than one identity/],
    ["every authenticated user", { allowedGroups: ["system:authenticated"] }, /system:authenticated/],
    ["every service account", { allowedGroups: ["system:serviceaccounts"] }, /system:serviceaccounts/],
    ["no namespace", { namespaces: [] }, /no audit namespace/],
  ] as const)("refuses to allow %s", (_what, change, message) => {
    const input = { ...argsFor("management").auditTrailGuard, ...change };
    expect(collectorGuardProblems(input).join()).toMatch(message);
    expect(() => collectorGuardPolicy(input)).toThrow(message);
  });
});

/** The collector pod as the vector chart (Agent role) renders it from our values. */
function renderedCollectorPod() {
  const values = collectorValues({
    cluster: { name: "production-osl2-mgmt", environment: "production", site: "osl2", role: "management" },
    lokiUrl: "https://loki-ingest-gateway.audit-logs.svc.cluster.local:8443",
    archive: { endpoint: "https://s3.example.net", bucket: "b", region: "osl2" },
    credentialsSecret: "audit-archive-credentials",
    // As the component renders it: the ingest CA mounted for the Loki sink's TLS.
    lokiPushUser: "production-osl2-mgmt",
    lokiCa: { configMap: INGEST_CA_CONFIGMAP, dir: INGEST_CA_DIR, key: INGEST_CA_KEY },
  });
  return {
    spec: {
      securityContext: values.podSecurityContext,
      containers: [
        {
          name: "vector",
          securityContext: values.securityContext,
          resources: values.resources,
          volumeMounts: [
            { name: "data", mountPath: "/vector-data-dir" },
            { name: "config", mountPath: "/etc/vector/", readOnly: true },
            ...values.defaultVolumeMounts,
            ...values.extraVolumeMounts,
          ],
        },
      ],
      volumes: [
        { name: "config", projected: { sources: [{ configMap: { name: "audit-collector" } }] } },
        { name: "data", emptyDir: {} },
        ...values.defaultVolumes,
        ...values.extraVolumes,
      ],
    },
  };
}

describe("the collector pod-shape policy, evaluated as CEL", () => {
  const policy = collectorPodShapePolicy(TALOS_AUDIT_LOG_DIR);
  const create = (object: unknown) =>
    admit(policy, {
      operation: "CREATE",
      resource: "pods",
      username: "system:serviceaccount:kube-system:daemon-set-controller",
      object,
    });

  it("admits the collector pod our values render", () => {
    expect(create(renderedCollectorPod())).toEqual([]);
  });

  const variants: [string, (pod: any) => void, RegExp][] = [
    [
      "the chart's default host /var/lib",
      (p) => {
        p.spec.volumes.push({ name: "var-lib", hostPath: { path: "/var/lib/" } });
      },
      /only host path/,
    ],
    [
      "host /proc",
      (p) => {
        p.spec.volumes.push({ name: "procfs", hostPath: { path: "/proc" } });
      },
      /only host path/,
    ],
    [
      "a writable audit-log mount",
      (p) => {
        p.spec.containers[0].volumeMounts.find((m: any) => m.mountPath === TALOS_AUDIT_LOG_DIR).readOnly = false;
      },
      /read-only/,
    ],
    [
      "root",
      (p) => {
        p.spec.containers[0].securityContext = { ...p.spec.containers[0].securityContext, runAsUser: 0 };
      },
      /non-root/,
    ],
    [
      "no runAsNonRoot",
      (p) => {
        delete p.spec.securityContext;
      },
      /non-root/,
    ],
    [
      "an added capability",
      (p) => {
        p.spec.containers[0].securityContext = {
          ...p.spec.containers[0].securityContext,
          capabilities: { drop: ["ALL"], add: ["DAC_READ_SEARCH"] },
        };
      },
      /drops all capabilities/,
    ],
    [
      "a privileged container",
      (p) => {
        p.spec.containers[0].securityContext = { ...p.spec.containers[0].securityContext, privileged: true };
      },
      /drops all capabilities/,
    ],
    [
      "a writable root filesystem",
      (p) => {
        p.spec.containers[0].securityContext = {
          ...p.spec.containers[0].securityContext,
          readOnlyRootFilesystem: false,
        };
      },
      /read-only root filesystem/,
    ],
    [
      "a container without securityContext",
      (p) => {
        p.spec.containers.push({ name: "sidecar" });
      },
      /drops all capabilities/,
    ],
    [
      "the host network",
      (p) => {
        p.spec.hostNetwork = true;
      },
      /no host network/,
    ],
    [
      "a root init container",
      (p) => {
        p.spec.initContainers = [{ name: "init", securityContext: { runAsUser: 0 } }];
      },
      /non-root/,
    ],
  ];
  it.each(variants)("refuses %s", (_what, edit, message) => {
    const pod = structuredClone(renderedCollectorPod());
    edit(pod);
    expect((create(pod) ?? []).join("\n")).toMatch(message);
  });
});

describe.each(STACKS)("admission policies in every cluster of %s", (stack) => {
  let run: GitOpsRun;
  beforeAll(async () => {
    run = await runGitOps(stack);
  });

  it("creates both policies and their bindings through each cluster's own provider", () => {
    const { plan } = loadStack(stack);
    for (const cluster of plan.clusters) {
      const mine = (type: string) =>
        ofType(run.resources, type).filter((r) => r.provider?.split("::")[3] === `${cluster.name}-k8s`);
      const names = (type: string) =>
        mine(type)
          .map((r) => (r.inputs["metadata"] as any).name)
          .sort();
      expect(names("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicy"), cluster.name).toEqual(
        [COLLECTOR_GUARD_NAME, COLLECTOR_POD_SHAPE_NAME].sort(),
      );
      const bindings = mine("kubernetes:admissionregistration.k8s.io/v1:ValidatingAdmissionPolicyBinding");
      expect(bindings.map((b) => (b.inputs["spec"] as any).policyName).sort()).toEqual(
        [COLLECTOR_GUARD_NAME, COLLECTOR_POD_SHAPE_NAME].sort(),
      );
      for (const b of bindings) expect((b.inputs["spec"] as any).validationActions).toContain("Deny");
    }
  });
});
