/**
 * A real kube-apiserver (1.34, with etcd, both built from Go modules by
 * scripts/toolchain/build.sh) started with the test stack's own rendered
 * audit policy and AuthenticationConfiguration, read back from a cluster's
 * control-plane machine config: one server for the ops cluster (all the
 * proofs), one for a management cluster (its ServiceAccount and
 * RoleBindings). No OpenStack lab needed.
 *
 * The program's objects go in through the REST API (server-side apply, as the
 * kubernetes plugin applies them), not through the plugin via the engine
 * tier: the engine tier's runner is the lab's, and the API route needs no
 * Pulumi state, yet sends the same objects the plugin would.
 *
 *   bash scripts/toolchain/build.sh kube-apiserver etcd
 *   npx vitest run --config test/integration/vitest.config.mts test/integration/kube-apiserver.test.ts
 *
 * Without the binaries the suite is skipped locally and fails in CI (CI=true),
 * naming the build command. SKE_KUBE_APISERVER_KEEP=1 keeps the run directory.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TALOS_AUDIT_LOG_DIR } from "../../components/audit-trail";
import {
  AUDITOR_RULES,
  COLLECTOR_GUARD_NAME,
  FORBIDDEN_RESOURCES,
  INDIRECT_SECRET_RESOURCES,
  READ_VERBS,
  collectorGuardPolicy,
  collectorPodShapePolicy,
} from "../../components/cluster-access";
import {
  applyProgramObjects,
  argoCdCrds,
  discover,
  installCrds,
  objectPath,
  type ServedResource,
} from "./kube-apiserver/apply";
import type { OidcIssuer, TokenClaims } from "./kube-apiserver/oidc-issuer";
import { kubernetesClientIdOf, type KubeObject, type RenderedCluster } from "./kube-apiserver/program-objects";
import { missingBinaries, type Identity, type KubeApiServer } from "./kube-apiserver/server";
import { startSession, type Session } from "./kube-apiserver/session";

const STACK = "test";
const CLUSTER = "test-osl2-ops";
const MANAGEMENT_CLUSTER = "test-osl2-mgmt";
/** Not Kubernetes objects of the program's own: Helm renders releases at deploy time, and Cilium's CRD comes with its chart. */
const NOT_APPLIED = ["kubernetes:helm.sh/v3:Release", "kubernetes:cilium.io/v2:CiliumClusterwideNetworkPolicy"];
const STANDARD_VERBS = ["get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"];
const SPECIAL_VERBS = ["impersonate", "bind", "escalate", "approve", "sign", "use", "*"];

const missing = missingBinaries();
const inCi = process.env.CI === "true" || process.env.CI === "1";
const log = (line: string) => process.stdout.write(`[kube-apiserver] ${line}\n`);

/**
 * Server-side applies the cluster's objects as the deploy identity (all but
 * NOT_APPLIED, which must be all that is left out), checks that the kinds the
 * issue names are among them, reads each back, Secrets' values included, and
 * returns what the server now serves.
 */
async function applyAndReadBack(session: Session, kinds: readonly string[]): Promise<ServedResource[]> {
  const { server, deploy, rendered } = session;
  const objects = rendered.objects.filter((o) => !NOT_APPLIED.includes(o.type));
  const applied = await applyProgramObjects(server, deploy, objects);
  log(
    `${rendered.cluster}: applied ${applied.length} objects as the deploy identity; left out ${rendered.objects.length - objects.length} (${NOT_APPLIED.join(", ")})`,
  );
  const served = await discover(server, deploy);
  const present = new Set(objects.map((o) => o.object.kind));
  for (const kind of kinds) expect(present, kind).toContain(kind);
  for (const o of objects) {
    const res = await server.request<KubeObject & { data?: Record<string, string> }>(
      deploy,
      "GET",
      objectPath(served, o.object),
    );
    expect(res.status, `${o.object.kind} ${o.object.metadata.name}: ${res.text}`).toBe(200);
    const stringData = o.object.stringData as Record<string, string> | undefined;
    if (o.object.kind === "Secret" && stringData) {
      expect(Object.keys(res.body.data ?? {}).sort(), o.name).toEqual(Object.keys(stringData).sort());
      for (const [key, value] of Object.entries(stringData))
        expect(Buffer.from(res.body.data![key]!, "base64").toString("utf8")).toBe(value);
    }
  }
  return served;
}

const sar = async (
  session: Session,
  user: string,
  groups: readonly string[],
  resourceAttributes: Record<string, string>,
) => {
  const res = await session.server.request<{ status: { allowed: boolean } }>(
    session.deploy,
    "POST",
    "/apis/authorization.k8s.io/v1/subjectaccessreviews",
    {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SubjectAccessReview",
      spec: { user, groups, resourceAttributes },
    },
  );
  if (res.status !== 201) throw new Error(`SubjectAccessReview: ${res.status} ${res.text}`);
  return res.body.status.allowed;
};

// In CI a missing binary is a failure with the command that builds it, never a silent skip.
if (missing !== null && inCi) {
  describe("kube-apiserver and etcd for the integration tier", () => {
    it("are built", () => {
      throw new Error(`kube-apiserver and etcd are ${missing} (CI=true: the API server suite does not skip)`);
    });
  });
}

describe.skipIf(missing !== null)(
  `a real kube-apiserver started with the ${STACK} stack's audit policy and authentication config (${CLUSTER})`,
  () => {
    let session: Session;
    let rendered: RenderedCluster;
    let server: KubeApiServer;
    let deploy: Identity;
    let served: ServedResource[] = [];
    const group = (name: string) => session.group(name);
    const token = (claims: Partial<TokenClaims> & { sub: string }, from?: OidcIssuer) => session.token(claims, from);
    const whoAmI = (bearer: string) => session.whoAmI(bearer);

    beforeAll(async () => {
      session = await startSession(STACK, CLUSTER, log);
      ({ rendered, server, deploy } = session);
    }, 420_000);

    afterAll(async () => {
      await session?.stop();
    });

    it("applies the ops cluster's namespaces, RBAC, Secrets, Argo CD cluster Secrets, AppProjects and Applications (Argo CD's CRDs from its Go module) and reads each back", async () => {
      await installCrds(server, deploy, argoCdCrds());
      served = await applyAndReadBack(session, [
        "Namespace",
        "ClusterRole",
        "ClusterRoleBinding",
        "Secret",
        "AppProject",
        "Application",
        "ApplicationSet",
        "ValidatingAdmissionPolicy",
        "ValidatingAdmissionPolicyBinding",
      ]);
      const clusterSecrets = await server.request<{ items: KubeObject[] }>(
        deploy,
        "GET",
        "/api/v1/namespaces/argocd/secrets?labelSelector=argocd.argoproj.io%2Fsecret-type%3Dcluster",
      );
      expect(clusterSecrets.body.items.map((s) => s.metadata.name).sort()).toEqual([
        "cluster-test-osl2-mgmt",
        "cluster-test-osl2-ops",
      ]);
      const project = await server.request<{ spec: { sourceRepos?: string[]; destinations?: unknown[] } }>(
        deploy,
        "GET",
        "/apis/argoproj.io/v1alpha1/namespaces/argocd/appprojects/default",
      );
      // The forced patch emptied the default project, as the program means it to.
      expect(project.body.spec.sourceRepos ?? []).toEqual([]);
      expect(project.body.spec.destinations ?? []).toEqual([]);
    });

    /** Allowed (verb, group, resource) for one subject, over every served resource and verb, cluster-wide. */
    async function allowedFor(user: string, groups: string[], namespace = ""): Promise<Set<string>> {
      const checks: { verb: string; group: string; resource: string; subresource: string }[] = [];
      for (const r of served) {
        if (namespace && !r.namespaced) continue;
        const [resource, subresource = ""] = r.resource.split("/");
        for (const verb of new Set([...STANDARD_VERBS, ...r.verbs, ...SPECIAL_VERBS]))
          checks.push({ verb, group: r.group, resource: resource!, subresource });
      }
      log(`${checks.length} SubjectAccessReviews for ${groups.join(",")}${namespace ? ` in ${namespace}` : ""}`);
      const allowed = new Set<string>();
      const queue = [...checks];
      await Promise.all(
        Array.from({ length: 12 }, async () => {
          for (let c = queue.shift(); c; c = queue.shift()) {
            const res = await server.request<{ status: { allowed: boolean } }>(
              deploy,
              "POST",
              "/apis/authorization.k8s.io/v1/subjectaccessreviews",
              {
                apiVersion: "authorization.k8s.io/v1",
                kind: "SubjectAccessReview",
                spec: {
                  user,
                  groups,
                  resourceAttributes: {
                    verb: c.verb,
                    group: c.group,
                    resource: c.resource,
                    subresource: c.subresource,
                    namespace,
                  },
                },
              },
            );
            if (res.status !== 201) throw new Error(`SubjectAccessReview: ${res.status} ${res.text}`);
            if (res.body.status.allowed)
              allowed.add(`${c.verb} ${c.group || "core"}/${c.resource}${c.subresource ? `/${c.subresource}` : ""}`);
          }
        }),
      );
      return allowed;
    }

    it("auditors, by SubjectAccessReview over every verb on every served resource: read-only, exactly their table, no Secret, ConfigMap or kind with a pod spec", async () => {
      const signedIn = ["system:authenticated"];
      const baseline = await allowedFor("zitadel:someone", signedIn);
      const auditor = await allowedFor(`${rendered.zitadel.groupsPrefix}auditor-1`, [
        group(rendered.zitadel.auditorGroup),
        ...signedIn,
      ]);
      const extra = [...auditor].filter((a) => !baseline.has(a)).sort();
      log(`auditors: ${auditor.size} allowed (verb, resource) pairs, ${extra.length} beyond every signed-in user's`);

      const nonRead = extra.filter((a) => !(READ_VERBS as readonly string[]).includes(a.split(" ")[0]!));
      expect(nonRead, "auditors may only read").toEqual([]);
      const forbidden = new Set<string>(FORBIDDEN_RESOURCES);
      const reachesForbidden = [...auditor].filter((a) => {
        const resource = a.split(" ")[1]!.split("/").slice(1).join("/");
        return forbidden.has(resource) || forbidden.has(resource.split("/")[0]!);
      });
      expect(
        reachesForbidden,
        "auditors reach no Secret, no ConfigMap, no kind with a pod spec, no subresource that acts",
      ).toEqual([]);
      for (const kind of ["secrets", "configmaps", ...INDIRECT_SECRET_RESOURCES]) {
        expect(
          extra.some((a) => a.endsWith(`/${kind}`)),
          kind,
        ).toBe(false);
      }

      // And what they may read is their table, as far as this server serves it: nothing silently lost or gained.
      const expected = AUDITOR_RULES.flatMap((rule) =>
        rule.apiGroups.flatMap((g) =>
          rule.resources.flatMap((resource) =>
            served.some((s) => s.group === g && s.resource === resource)
              ? rule.verbs.map((verb) => `${verb} ${g || "core"}/${resource}`)
              : [],
          ),
        ),
      );
      expect(extra).toEqual([...new Set(expected)].sort());
      expect(extra).toContain("get argoproj.io/applications");

      // Namespaced grants (a RoleBinding somewhere) do not show cluster-wide: ask in each namespace that holds a Secret.
      const namespaces = [
        ...new Set(rendered.objects.filter((o) => o.object.kind === "Secret").map((o) => o.object.metadata.namespace!)),
        "kube-system",
      ];
      for (const ns of namespaces) {
        for (const verb of [...READ_VERBS, "create", "update", "delete"]) {
          const res = await server.request<{ status: { allowed: boolean } }>(
            deploy,
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {
              apiVersion: "authorization.k8s.io/v1",
              kind: "SubjectAccessReview",
              spec: {
                user: `${rendered.zitadel.groupsPrefix}auditor-1`,
                groups: [group(rendered.zitadel.auditorGroup), ...signedIn],
                resourceAttributes: { verb, resource: "secrets", namespace: ns },
              },
            },
          );
          expect(res.body.status.allowed, `${verb} secrets in ${ns}`).toBe(false);
        }
      }
    }, 600_000);

    it("the platform group holds no cluster-admin, admin or edit binding, reads no Secret where credentials live, cannot impersonate or exec into the collector", async () => {
      const platform = group(rendered.zitadel.platformGroup);
      const bindings = [
        ...(
          await server.request<{
            items: {
              metadata: { name: string; namespace?: string };
              roleRef: { name: string };
              subjects?: { kind: string; name: string }[];
            }[];
          }>(deploy, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings")
        ).body.items,
        ...(
          await server.request<{
            items: {
              metadata: { name: string; namespace?: string };
              roleRef: { name: string };
              subjects?: { kind: string; name: string }[];
            }[];
          }>(deploy, "GET", "/apis/rbac.authorization.k8s.io/v1/rolebindings")
        ).body.items,
      ];
      const platformBindings = bindings.filter((b) =>
        (b.subjects ?? []).some((s) => s.kind === "Group" && s.name === platform),
      );
      expect(platformBindings.map((b) => b.metadata.name)).toContain("ske-platform-read-only");
      expect(
        platformBindings
          .filter((b) => ["cluster-admin", "admin", "edit"].includes(b.roleRef.name))
          .map((b) => `${b.metadata.namespace ?? ""}/${b.metadata.name} -> ${b.roleRef.name}`),
      ).toEqual([]);

      const can = async (resourceAttributes: Record<string, string>) => {
        const res = await server.request<{ status: { allowed: boolean } }>(
          deploy,
          "POST",
          "/apis/authorization.k8s.io/v1/subjectaccessreviews",
          {
            apiVersion: "authorization.k8s.io/v1",
            kind: "SubjectAccessReview",
            spec: {
              user: `${rendered.zitadel.groupsPrefix}operator-1`,
              groups: [platform, "system:authenticated"],
              resourceAttributes,
            },
          },
        );
        return res.body.status.allowed;
      };
      // The binding is live: the cluster-wide read role answers.
      expect(await can({ verb: "list", resource: "pods" })).toBe(true);
      for (const namespace of ["", "kube-system", "argocd", "audit-collector", "audit-logs"]) {
        for (const verb of ["get", "list", "watch"])
          expect(
            await can({ verb, resource: "secrets", namespace }),
            `${verb} secrets in ${namespace || "all namespaces"}`,
          ).toBe(false);
      }
      for (const resource of ["users", "groups", "serviceaccounts"])
        expect(await can({ verb: "impersonate", resource }), `impersonate ${resource}`).toBe(false);
      expect(await can({ verb: "create", resource: "pods", subresource: "exec", namespace: "audit-collector" })).toBe(
        false,
      );
      expect(await can({ verb: "*", group: "*", resource: "*" })).toBe(false);
    });

    it("a token without mfa in amr is refused with 401; the same token with mfa is accepted", async () => {
      const claims = { sub: "auditor-1", groups: [rendered.zitadel.auditorGroup] };
      for (const amr of [undefined, ["pwd"], ["pwd", "otp"]]) {
        const res = await whoAmI(token({ ...claims, ...(amr ? { amr } : {}) }));
        expect(res.status, `amr ${JSON.stringify(amr)}: ${res.text}`).toBe(401);
      }
      const accepted = await whoAmI(token({ ...claims, amr: ["pwd", "mfa"] }));
      expect(accepted.status, accepted.text).toBe(201);
      expect(accepted.body.status?.userInfo?.username).toBe(`${rendered.zitadel.groupsPrefix}auditor-1`);
      expect(accepted.body.status?.userInfo?.groups).toContain(group(rendered.zitadel.auditorGroup));
    });

    it("break-glass reaches cluster-admin only with mfa in amr", async () => {
      const claims = { sub: "oncall-1", groups: [rendered.zitadel.breakGlassGroup] };
      const binding = await server.request<{ roleRef: { name: string }; subjects: { name: string }[] }>(
        deploy,
        "GET",
        "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/ske-break-glass",
      );
      expect(binding.body.roleRef.name).toBe("cluster-admin");
      expect(binding.body.subjects.map((s) => s.name)).toEqual([group(rendered.zitadel.breakGlassGroup)]);
      const everything = {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SelfSubjectAccessReview",
        spec: { resourceAttributes: { verb: "*", group: "*", resource: "*" } },
      };
      const withoutMfa = await server.request(
        { token: token({ ...claims, amr: ["pwd"] }) },
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        everything,
      );
      expect(withoutMfa.status, withoutMfa.text).toBe(401);
      const withMfa = await server.request<{ status: { allowed: boolean } }>(
        { token: token({ ...claims, amr: ["pwd", "mfa"] }) },
        "POST",
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        everything,
      );
      expect(withMfa.status, withMfa.text).toBe(201);
      expect(withMfa.body.status.allowed).toBe(true);
    });

    it("tokens minted for production or staging, by another issuer, or signed with another key are refused with 401", async () => {
      const claims = { sub: "auditor-1", groups: [rendered.zitadel.auditorGroup], amr: ["pwd", "mfa"] };
      expect((await whoAmI(token(claims))).status).toBe(201);
      for (const other of ["production", "staging"]) {
        const aud = kubernetesClientIdOf(other);
        expect(aud, `${other} must declare its own client id`).not.toBe(rendered.zitadel.kubernetesClientId);
        const res = await whoAmI(token({ ...claims, aud }));
        expect(res.status, `${other}'s audience: ${res.text}`).toBe(401);
      }
      const foreignIssuer = await whoAmI(token(claims, session.otherIssuer));
      expect(foreignIssuer.status, foreignIssuer.text).toBe(401);
      const forged = await whoAmI(token({ ...claims, iss: session.issuer.url }, session.otherIssuer));
      expect(forged.status, forged.text).toBe(401);
    });

    it("the audit log records a Secret read at Metadata level, without request or response bodies", async () => {
      const secret = rendered.objects.find(
        (o) =>
          o.object.kind === "Secret" &&
          o.object.metadata.namespace === "argocd" &&
          o.object.metadata.name === `cluster-${CLUSTER}`,
      )!;
      const read = await server.request(
        deploy,
        "GET",
        `/api/v1/namespaces/argocd/secrets/${secret.object.metadata.name}`,
      );
      expect(read.status).toBe(200);
      // A value that can appear nowhere else: written and read back like any credential.
      const value = crypto.randomBytes(24).toString("hex");
      const probe = {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "ske-audit-probe", namespace: "argocd" },
        stringData: { token: value },
      };
      expect((await server.request(deploy, "POST", "/api/v1/namespaces/argocd/secrets", probe)).status).toBe(201);
      const probeRead = await server.request<{ data: Record<string, string> }>(
        deploy,
        "GET",
        "/api/v1/namespaces/argocd/secrets/ske-audit-probe",
      );
      expect(Buffer.from(probeRead.body.data.token!, "base64").toString("utf8")).toBe(value);

      const text = fs.readFileSync(server.auditLog, "utf8");
      const events = text
        .trim()
        .split("\n")
        .map(
          (l) =>
            JSON.parse(l) as {
              level: string;
              verb: string;
              stage: string;
              user: { username: string };
              objectRef?: { resource?: string; namespace?: string; name?: string };
              requestObject?: unknown;
              responseObject?: unknown;
            },
        );
      for (const name of [secret.object.metadata.name, "ske-audit-probe"]) {
        const reads = events.filter(
          (e) =>
            e.verb === "get" &&
            e.objectRef?.resource === "secrets" &&
            e.objectRef.namespace === "argocd" &&
            e.objectRef.name === name,
        );
        expect(reads.length, `audit events of reading argocd/${name}`).toBeGreaterThan(0);
        for (const e of reads) {
          expect(e.level).toBe("Metadata");
          expect(e.stage).toBe("ResponseComplete");
          expect(e.user.username).toBe("ske-platform");
          expect(e).not.toHaveProperty("requestObject");
          expect(e).not.toHaveProperty("responseObject");
        }
      }
      // Nor does any event of the run carry a body: the program's applies with stringData included.
      expect(
        events
          .filter((e) => e.requestObject !== undefined || e.responseObject !== undefined)
          .map((e) => `${e.verb} ${e.objectRef?.resource ?? ""} ${e.objectRef?.name ?? ""}`),
      ).toEqual([]);
      expect(
        text.includes(value) || text.includes(Buffer.from(value).toString("base64")),
        "the secret value is in the audit log",
      ).toBe(false);
    });

    it("the audit-trail guard is enforced by the server: system:masters cannot change the collector's Secret, the deploy identity can, and a collector pod with another host path is refused", async () => {
      const guard = await server.request<{ spec: unknown }>(
        deploy,
        "GET",
        `/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies/${COLLECTOR_GUARD_NAME}`,
      );
      expect(guard.status).toBe(200);
      const expectedMessage = collectorGuardPolicy({ namespaces: ["x"], allowedGroups: ["y"], allowedUsers: [] })
        .validations[0]!.message;
      const label = (value: string) => ({ metadata: { labels: { "ske-test/touched": value } } });
      const secretPath = "/api/v1/namespaces/audit-collector/secrets/loki-push-credentials";
      // A policy is compiled shortly after it is created: allow it a few seconds to take effect.
      let denied = await server.request(
        { cert: server.masters },
        "PATCH",
        secretPath,
        label("masters"),
        "application/merge-patch+json",
      );
      for (let i = 0; i < 60 && denied.status === 200; i++) {
        await new Promise((r) => setTimeout(r, 500));
        denied = await server.request(
          { cert: server.masters },
          "PATCH",
          secretPath,
          label("masters"),
          "application/merge-patch+json",
        );
      }
      expect(denied.status, denied.text).toBe(403);
      expect(denied.text).toContain(expectedMessage);
      const deleted = await server.request({ cert: server.masters }, "DELETE", "/api/v1/namespaces/audit-collector");
      expect(deleted.status, deleted.text).toBe(403);
      const allowed = await server.request(
        deploy,
        "PATCH",
        secretPath,
        label("deploy"),
        "application/merge-patch+json",
      );
      expect(allowed.status, allowed.text).toBe(200);

      // The pod-shape policy, for every identity: what the service-account controller would create first.
      const sa = await server.request(deploy, "POST", "/api/v1/namespaces/audit-collector/serviceaccounts", {
        apiVersion: "v1",
        kind: "ServiceAccount",
        metadata: { name: "default" },
      });
      expect([201, 409]).toContain(sa.status);
      const container = {
        name: "collector",
        image: "registry.example/collector:1",
        securityContext: {
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          capabilities: { drop: ["ALL"] },
        },
        volumeMounts: [{ name: "audit", mountPath: "/audit", readOnly: true }],
      };
      const pod = (name: string, hostPath: string) => ({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name },
        spec: {
          automountServiceAccountToken: false,
          securityContext: { runAsNonRoot: true, runAsUser: 65534 },
          containers: [container],
          volumes: [{ name: "audit", hostPath: { path: hostPath } }],
        },
      });
      const wrongPath = await server.request(
        deploy,
        "POST",
        "/api/v1/namespaces/audit-collector/pods",
        pod("collector-var-lib", "/var/lib"),
      );
      expect(wrongPath.status, wrongPath.text).toBe(422);
      const pathMessage = collectorPodShapePolicy(TALOS_AUDIT_LOG_DIR).validations[0]!.message;
      expect(wrongPath.text).toContain(pathMessage);
      const shaped = await server.request(
        deploy,
        "POST",
        "/api/v1/namespaces/audit-collector/pods",
        pod("collector-shaped", TALOS_AUDIT_LOG_DIR),
      );
      expect(shaped.status, shaped.text).toBe(201);
    });
  },
);

describe.skipIf(missing !== null)(
  `a real kube-apiserver started with the ${STACK} stack's audit policy and authentication config (${MANAGEMENT_CLUSTER})`,
  () => {
    let session: Session;

    beforeAll(async () => {
      session = await startSession(STACK, MANAGEMENT_CLUSTER, log);
    }, 420_000);

    afterAll(async () => {
      await session?.stop();
    });

    it("applies the management cluster's namespaces, the argocd-manager ServiceAccount and its token Secret, RoleBindings, roles and Secrets, and reads each back", async () => {
      await applyAndReadBack(session, [
        "Namespace",
        "ServiceAccount",
        "Secret",
        "ClusterRole",
        "ClusterRoleBinding",
        "RoleBinding",
        "ValidatingAdmissionPolicy",
      ]);
      const token = await session.server.request<{ type: string; metadata: { annotations: Record<string, string> } }>(
        session.deploy,
        "GET",
        "/api/v1/namespaces/kube-system/secrets/argocd-manager-token",
      );
      expect(token.body.type).toBe("kubernetes.io/service-account-token");
      expect(token.body.metadata.annotations["kubernetes.io/service-account.name"]).toBe("argocd-manager");
    });

    it("the platform group's operator role works only in the namespaces it operates, never in kube-system, argocd or the audit namespaces", async () => {
      const { rendered } = session;
      const platform = [session.group(rendered.zitadel.platformGroup), "system:authenticated"];
      const user = `${rendered.zitadel.groupsPrefix}operator-1`;
      // Secrets there are the team's own (PLATFORM_OPERATOR_RULES); elsewhere none.
      const operated = rendered.objects
        .filter((o) => o.object.kind === "RoleBinding")
        .map((o) => o.object.metadata.namespace!);
      expect(operated.length).toBeGreaterThan(0);
      for (const namespace of operated) {
        expect(
          await sar(session, user, platform, { verb: "create", group: "apps", resource: "deployments", namespace }),
          `create deployments in ${namespace}`,
        ).toBe(true);
      }
      for (const namespace of ["kube-system", "argocd", "audit-collector", "default"]) {
        for (const [verb, group, resource] of [
          ["create", "apps", "deployments"],
          ["create", "", "pods"],
          ["get", "", "secrets"],
          ["create", "rbac.authorization.k8s.io", "rolebindings"],
        ] as const) {
          expect(
            await sar(session, user, platform, { verb, group, resource, namespace }),
            `${verb} ${resource} in ${namespace}`,
          ).toBe(false);
        }
      }
    });
  },
);
