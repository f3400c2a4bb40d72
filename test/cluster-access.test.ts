import * as k8s from "@pulumi/kubernetes";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AUDITOR_CLUSTER_ROLE,
  AUDITOR_RULES,
  ClusterAccess,
  type ClusterAccessArgs,
  FORBIDDEN_RESOURCES,
  OPERATED_NAMESPACES,
  PLATFORM_OPERATOR_ROLE,
  PLATFORM_READ_ROLE,
  PLATFORM_OPERATOR_RULES,
  operatedNamespaceProblems,
  platformRuleProblems,
  READ_VERBS,
  kubernetesGroups,
  readOnlyRuleProblems,
  type PolicyRule,
} from "../components/cluster-access";
import { grafanaValues, roleAttributePath } from "../components/grafana";
import { ProgramFailed, runProgram, type RecordedResource } from "../synth/mock-runtime";
import { loadStack, runGitOps, type GitOpsRun } from "./support/gitops-fixture";
import { STACKS, ofType } from "./support/stacks";
import { authorizer } from "./support/rbac";

const ROLE = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole";
const BINDING = "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding";
const ROLE_BINDING = "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding";
const WRITE_VERBS = [
  "create",
  "update",
  "patch",
  "delete",
  "deletecollection",
  "impersonate",
  "escalate",
  "bind",
  "approve",
  "sign",
  "*",
];

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
    for (const resource of [
      "secrets",
      "pods/exec",
      "pods/attach",
      "pods/portforward",
      "services/proxy",
      "nodes/proxy",
      "pods/proxy",
      "serviceaccounts/token",
    ]) {
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
    expect(rbac.resources).toEqual(
      expect.arrayContaining(["roles", "rolebindings", "clusterroles", "clusterrolebindings"]),
    );
    expect(AUDITOR_RULES.find((r) => r.apiGroups.includes(""))!.resources).toEqual(
      expect.arrayContaining(["services", "nodes", "events", "namespaces"]),
    );
  });

  it("reads no ConfigMap and no kind with an inline pod spec, whose env values can carry credentials", () => {
    const granted = AUDITOR_RULES.flatMap((r) => r.resources);
    for (const kind of [
      "configmaps",
      "pods",
      "podtemplates",
      "deployments",
      "replicasets",
      "statefulsets",
      "daemonsets",
      "jobs",
      "cronjobs",
      "replicationcontrollers",
      "controllerrevisions",
    ]) {
      expect(granted, kind).not.toContain(kind);
      expect(readOnlyRuleProblems([{ apiGroups: [""], resources: [kind], verbs: ["get"] }]).join(), kind).toMatch(
        /never readable/,
      );
    }
  });

  describe("the guard refuses every way of widening it", () => {
    const core: PolicyRule = { apiGroups: [""], resources: ["services"], verbs: ["get"] };
    const cases: [string, PolicyRule, RegExp][] = [
      ["a write verb", { ...core, verbs: ["get", "patch"] }, /verb "patch" is not read-only/],
      ["a wildcard verb", { ...core, verbs: ["*"] }, /verb "\*"/],
      ["Secrets", { ...core, resources: ["secrets"] }, /"secrets" is never readable/],
      ...FORBIDDEN_RESOURCES.filter((r) => r !== "secrets").map((r): [string, PolicyRule, RegExp] => [
        r,
        { ...core, resources: [r] },
        /never readable/,
      ]),
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
      const roles = ofType(run.resources, ROLE).filter(
        (r) => providerOf(r) === provider && (r.inputs["metadata"] as any).name === AUDITOR_CLUSTER_ROLE,
      );
      expect(roles, cluster.name).toHaveLength(1);
      expect((roles[0]!.inputs["metadata"] as any).name).toBe(AUDITOR_CLUSTER_ROLE);
      const rules = roles[0]!.inputs["rules"] as PolicyRule[];
      expect(readOnlyRuleProblems(rules)).toEqual([]);
      expect(rules.flatMap((r) => r.resources)).not.toContain("secrets");

      const bindings = ofType(run.resources, BINDING).filter((r) => providerOf(r) === provider);
      const auditors = bindings.filter((b) =>
        (b.inputs["subjects"] as any[]).some((s) => s.name === `${prefix}${loaded.config.zitadel.auditorGroup}`),
      );
      expect(auditors.map((b) => (b.inputs["roleRef"] as any).name)).toEqual([AUDITOR_CLUSTER_ROLE]);
      expect((auditors[0]!.inputs["subjects"] as any[])[0]).toMatchObject({
        kind: "Group",
        apiGroup: "rbac.authorization.k8s.io",
      });
    }
  });

  it("binds the platform group cluster-wide only to the read-only role, never to admin, edit or cluster-admin", () => {
    for (const cluster of plan.clusters) {
      const bindings = ofType(run.resources, BINDING).filter((r) => providerOf(r) === `${cluster.name}-k8s`);
      const platform = bindings.filter((b) =>
        (b.inputs["subjects"] as any[]).some((s) => s.name === `${prefix}${loaded.config.zitadel.platformGroup}`),
      );
      expect(
        platform.map((b) => (b.inputs["roleRef"] as any).name),
        cluster.name,
      ).toEqual([PLATFORM_READ_ROLE]);
      const role = ofType(run.resources, ROLE).find(
        (r) => providerOf(r) === `${cluster.name}-k8s` && (r.inputs["metadata"] as any).name === PLATFORM_READ_ROLE,
      )!;
      const rules = role.inputs["rules"] as { verbs: string[]; resources: string[] }[];
      expect(
        rules.flatMap((r) => r.verbs).every((v) => ["get", "list", "watch"].includes(v)),
        cluster.name,
      ).toBe(true);
      expect(
        rules.flatMap((r) => r.resources).filter((r) => r === "secrets" || r.includes("/") || r.includes("*")),
        cluster.name,
      ).toEqual([]);
    }
  });

  it("lets the platform group operate only in its operated namespaces, with a RoleBinding to the vetted operator role", () => {
    for (const cluster of plan.clusters) {
      const roleBindings = ofType(run.resources, ROLE_BINDING).filter((r) => providerOf(r) === `${cluster.name}-k8s`);
      expect(roleBindings.map((b) => (b.inputs["metadata"] as any).namespace).sort(), cluster.name).toEqual(
        [...OPERATED_NAMESPACES[cluster.role]].sort(),
      );
      for (const b of roleBindings) expect((b.inputs["roleRef"] as any).name).toBe(PLATFORM_OPERATOR_ROLE);
      const operator = ofType(run.resources, ROLE).find(
        (r) => providerOf(r) === `${cluster.name}-k8s` && (r.inputs["metadata"] as any).name === PLATFORM_OPERATOR_ROLE,
      )!;
      expect(platformRuleProblems(operator.inputs["rules"] as PolicyRule[])).toEqual([]);
    }
  });

  describe("what the platform group and the break-glass group may do, as RBAC evaluates it", () => {
    const platformGroup = `${prefix}${loaded.config.zitadel.platformGroup}`;
    const breakGlassGroup = `${prefix}${loaded.config.zitadel.breakGlassGroup}`;
    const closed = ["kube-system", loaded.config.argocd.namespace, "audit-collector", "audit-logs"];

    it("cannot read Secrets (the argocd-manager token among them) in kube-system, Argo CD's or the audit namespaces", () => {
      for (const cluster of plan.clusters) {
        const can = authorizer(run.resources, `${cluster.name}-k8s`);
        for (const namespace of closed) {
          for (const verb of ["get", "list", "watch"]) {
            expect(
              can(platformGroup, { verb, resource: "secrets", namespace }),
              `${cluster.name} ${verb} secrets in ${namespace}`,
            ).toBe(false);
          }
          // Creating a pod there would mount those Secrets and run as those service accounts.
          expect(
            can(platformGroup, { verb: "create", resource: "pods", namespace }),
            `${cluster.name} create pods in ${namespace}`,
          ).toBe(false);
          expect(can(platformGroup, { verb: "create", resource: "serviceaccounts/token", namespace })).toBe(false);
        }
      }
    });

    it("cannot exec, attach or port-forward into the audit collector", () => {
      for (const cluster of plan.clusters) {
        const can = authorizer(run.resources, `${cluster.name}-k8s`);
        for (const resource of ["pods/exec", "pods/attach", "pods/portforward"]) {
          expect(
            can(platformGroup, { verb: "create", resource, namespace: "audit-collector" }),
            `${cluster.name} ${resource}`,
          ).toBe(false);
        }
      }
    });

    it("cannot impersonate, bind or escalate, nor write RBAC or admission policies", () => {
      for (const cluster of plan.clusters) {
        const can = authorizer(run.resources, `${cluster.name}-k8s`);
        for (const namespace of [undefined, ...OPERATED_NAMESPACES[cluster.role]]) {
          for (const resource of ["users", "groups", "serviceaccounts", "userextras/scopes"]) {
            expect(
              can(platformGroup, { verb: "impersonate", resource, namespace }),
              `${cluster.name} impersonate ${resource}`,
            ).toBe(false);
          }
          for (const resource of ["roles", "clusterroles", "rolebindings", "clusterrolebindings"]) {
            for (const verb of ["bind", "escalate", "create", "update", "patch"]) {
              expect(
                can(platformGroup, { verb, resource, apiGroup: "rbac.authorization.k8s.io", namespace }),
                `${cluster.name} ${verb} ${resource}`,
              ).toBe(false);
            }
          }
          expect(
            can(platformGroup, {
              verb: "delete",
              resource: "validatingadmissionpolicies",
              apiGroup: "admissionregistration.k8s.io",
              namespace,
            }),
          ).toBe(false);
        }
      }
    });

    it("still works in the namespaces it operates: deploy, read Secrets, exec", () => {
      const management = plan.clusters.find((c) => c.role === "management")!;
      const can = authorizer(run.resources, `${management.name}-k8s`);
      for (const namespace of OPERATED_NAMESPACES.management) {
        expect(can(platformGroup, { verb: "patch", resource: "deployments", apiGroup: "apps", namespace })).toBe(true);
        expect(can(platformGroup, { verb: "get", resource: "secrets", namespace })).toBe(true);
        expect(can(platformGroup, { verb: "create", resource: "pods/exec", namespace })).toBe(true);
      }
      // And reads cluster state everywhere, Secrets excepted.
      expect(can(platformGroup, { verb: "list", resource: "pods", namespace: "kube-system" })).toBe(true);
    });

    it("the break-glass group is cluster-admin, and only it", () => {
      for (const cluster of plan.clusters) {
        const can = authorizer(run.resources, `${cluster.name}-k8s`);
        expect(can(breakGlassGroup, { verb: "get", resource: "secrets", namespace: "kube-system" })).toBe(true);
        expect(can(breakGlassGroup, { verb: "create", resource: "pods/exec", namespace: "audit-collector" })).toBe(
          true,
        );
        const bindings = ofType(run.resources, BINDING).filter(
          (r) => providerOf(r) === `${cluster.name}-k8s` && (r.inputs["roleRef"] as any).name === "cluster-admin",
        );
        expect(
          bindings.flatMap((b) => (b.inputs["subjects"] as any[]).filter((s) => s.kind === "Group").map((s) => s.name)),
        ).toEqual([breakGlassGroup]);
      }
    });
  });
});

describe("the platform role's guards", () => {
  const core: PolicyRule = { apiGroups: [""], resources: ["pods"], verbs: ["get"] };
  const cases: [string, PolicyRule, RegExp][] = [
    [
      "impersonate",
      { ...core, resources: ["serviceaccounts"], verbs: ["impersonate"] },
      /verb "impersonate" escalates/,
    ],
    [
      "bind",
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["bind"] },
      /verb "bind" escalates/,
    ],
    [
      "escalate",
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["escalate"] },
      /verb "escalate" escalates/,
    ],
    ["a wildcard verb", { ...core, verbs: ["*"] }, /verb "\*"/],
    ["a wildcard resource", { ...core, resources: ["*"] }, /wildcard resource/],
    ["a wildcard API group", { ...core, apiGroups: ["*"] }, /wildcard API group/],
    [
      "role bindings",
      { apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: ["create"] },
      /changes who may do what/,
    ],
    [
      "token requests",
      { ...core, resources: ["serviceaccounts/token"], verbs: ["create"] },
      /"serviceaccounts\/token" is never granted/,
    ],
    [
      "admission policies",
      { apiGroups: ["admissionregistration.k8s.io"], resources: ["validatingadmissionpolicies"], verbs: ["delete"] },
      /changes who may do what/,
    ],
  ];
  it.each(cases)("refuses %s in the operator role", (_what, rule, message) => {
    expect(platformRuleProblems([...PLATFORM_OPERATOR_RULES, rule]).join("\n")).toMatch(message);
  });

  it("passes the vetted operator table", () => {
    expect(platformRuleProblems(PLATFORM_OPERATOR_RULES)).toEqual([]);
  });

  it.each(["kube-system", "argocd", "audit-collector", "default"])(
    "refuses to make %s an operated namespace",
    (namespace) => {
      expect(operatedNamespaceProblems([namespace], ["argocd", "audit-collector", "audit-logs"]).join()).toMatch(
        `namespace "${namespace}" is protected`,
      );
    },
  );

  const accessRun = (extra: Partial<ClusterAccessArgs>) =>
    runProgram({
      stackFile: loadStack("test").stackFile,
      fakeState: () => ({}),
      entry: () => {
        const provider = new k8s.Provider("guarded-k8s", { kubeconfig: "fake" });
        new ClusterAccess("guarded-access", {
          clusterName: "test-osl2-mgmt",
          groups: { platform: "zitadel:platform-team", auditors: "zitadel:auditors" },
          operatedNamespaces: OPERATED_NAMESPACES.management,
          protectedNamespaces: ["argocd", "audit-collector", "audit-logs"],
          breakGlass: { group: "zitadel:platform-break-glass", requireMfa: true },
          auditTrailGuard: {
            namespaces: ["audit-collector"],
            allowedGroups: ["ske:platform-admins"],
            allowedUsers: [],
          },
          collectorPods: { namespace: "audit-collector", auditLogDir: "/var/log/audit/kube" },
          provider,
          ...extra,
        });
        return Promise.resolve({});
      },
    });

  it("stops the program, names the cluster and registers no binding when the role is widened or bound in a protected namespace", async () => {
    const widened = accessRun({
      operatorRules: [...PLATFORM_OPERATOR_RULES, { apiGroups: [""], resources: ["users"], verbs: ["impersonate"] }],
    });
    await expect(widened).rejects.toThrow(
      /test-osl2-mgmt: the platform group's everyday role must not reach cluster-admin:[\s\S]*verb "impersonate" escalates/,
    );
    const inKubeSystem = await accessRun({ operatedNamespaces: ["kube-system"] }).catch((e: ProgramFailed) => e);
    expect(inKubeSystem).toBeInstanceOf(ProgramFailed);
    expect((inKubeSystem as ProgramFailed).message).toMatch(/namespace "kube-system" is protected/);
    expect((inKubeSystem as ProgramFailed).registered.filter((r) => r.type.startsWith("kubernetes:rbac"))).toEqual([]);
  });

  it("stops the program and registers no role when the auditor role is widened", async () => {
    const widened = await accessRun({
      auditorRules: [...AUDITOR_RULES, { apiGroups: [""], resources: ["secrets"], verbs: ["get"] }],
    }).catch((e: ProgramFailed) => e);
    expect(widened).toBeInstanceOf(ProgramFailed);
    expect((widened as ProgramFailed).message).toMatch(
      /test-osl2-mgmt: the auditor role must stay read-only:[\s\S]*secrets/,
    );
    expect((widened as ProgramFailed).registered.filter((r) => r.type.startsWith("kubernetes:rbac"))).toEqual([]);
  });

  it("makes no break-glass binding without MFA on the apiserver", async () => {
    const run = await accessRun({ breakGlass: { group: "zitadel:platform-break-glass", requireMfa: false } });
    expect(ofType(run.resources, BINDING).map((b) => (b.inputs["roleRef"] as any).name)).not.toContain("cluster-admin");
    const withMfa = await accessRun({});
    expect(
      ofType(withMfa.resources, BINDING).filter((b) => (b.inputs["roleRef"] as any).name === "cluster-admin"),
    ).toHaveLength(1);
  });
});

describe("Grafana for auditors", () => {
  const sso = {
    issuer: "https://id.example.net",
    clientId: "grafana",
    groupsClaim: "groups",
    platformGroup: "platform-team",
    auditorGroup: "auditors",
    requireMfa: true,
  };
  const values = grafanaValues({ sso, rootUrl: "http://localhost:3000", lokiUrl: "http://loki:3100" });
  const oauth = values["grafana.ini"]["auth.generic_oauth"];

  it("maps platform → Admin, auditors → Viewer, and refuses anyone else", () => {
    expect(oauth.role_attribute_path).toBe(
      `contains("groups"[*], 'platform-team') && contains(not_null(amr, \`[]\`), 'mfa') && 'Admin' || contains("groups"[*], 'auditors') && 'Viewer'`,
    );
    expect(oauth.role_attribute_strict).toBe(true);
    expect(oauth.allowed_groups).toBe("platform-team auditors");
    expect(oauth.allow_assign_grafana_admin).toBe(false);
  });

  it("quotes claims and group names so they cannot change the expression", () => {
    const path = roleAttributePath({
      groupsClaim: "urn:zitadel:groups",
      platformGroup: "a'b",
      auditorGroup: "c",
      requireMfa: true,
    });
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
    const grafana = ofType(run.resources, "kubernetes:helm.sh/v3:Release").find(
      (r) => r.inputs["chart"] === "grafana",
    )!;
    expect(providerOf(grafana)).toBe(`${ops.name}-k8s`);
    const datasources = (grafana.inputs["values"] as any).datasources["datasources.yaml"].datasources;
    const lokiUrl = expect.stringMatching(/^http:\/\/loki\.[a-z-]+\.svc\.cluster\.local:3100$/);
    // Audit logs (tenant "audit", the default source), then the central view's metrics and platform logs.
    expect(datasources).toEqual([
      expect.objectContaining({
        uid: "loki",
        type: "loki",
        url: lokiUrl,
        isDefault: true,
        secureJsonData: { httpHeaderValue1: "audit" },
      }),
      expect.objectContaining({
        uid: "metrics",
        type: "prometheus",
        url: expect.stringMatching(/^http:\/\/victoria-metrics-server\.metrics\.svc\.cluster\.local:8428$/),
      }),
      expect.objectContaining({
        uid: "platform-logs",
        type: "loki",
        url: lokiUrl,
        secureJsonData: { httpHeaderValue1: "platform" },
      }),
    ]);
  });
});
