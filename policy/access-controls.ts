/**
 * Access controls around the audit trail and GitOps (issue 11 B4, B5): Argo
 * CD's boundaries cannot be rewritten from Git, environments trust distinct
 * OIDC clients, and platform admins need a second factor everywhere. Pure
 * policies over resource records, registered in policy/policies.ts.
 */
import { parse as parseYaml } from "yaml";
import {
  OPAQUE,
  at,
  isOpaque,
  resourceId,
  type PolicyContext,
  type PolicyResource,
  type StackPolicy,
  type Violation,
} from "./model";
import { appliedEvidence, isControlPlaneApplyStep, stepNode } from "./applied-evidence";
import { IN_CLUSTER_SERVER } from "../plan/argocd";
import { displayText } from "../plan/display-text";

const T = {
  appProject: "kubernetes:argoproj.io/v1alpha1:AppProject",
  appProjectPatch: "kubernetes:argoproj.io/v1alpha1:AppProjectPatch",
  application: "kubernetes:argoproj.io/v1alpha1:Application",
  helmRelease: "kubernetes:helm.sh/v3:Release",
  instance: "openstack:compute/instance:Instance",
} as const;

const ROOT_KINDS = new Set(["argoproj.io/Application", "argoproj.io/ApplicationSet"]);

type GroupKind = { group?: unknown; kind?: unknown };
const gk = (g: GroupKind) => `${String(g.group)}/${String(g.kind)}`;
const list = (value: unknown): unknown[] | undefined => (Array.isArray(value) ? value : undefined);
const inArgoNamespace = (r: PolicyResource, ctx: PolicyContext) =>
  at(r.props, ["metadata", "namespace"]) === ctx.argocdNamespace;

function lockedDefaultProblems(spec: unknown): string[] {
  if (isOpaque(spec)) return ["its spec is not known at preview"];
  const problems: string[] = [];
  for (const key of ["sourceRepos", "destinations", "clusterResourceWhitelist"]) {
    const value = list(at(spec, [key]));
    if (!value || value.length > 0) problems.push(`${key} must be an empty list`);
  }
  const nsWhite = list(at(spec, ["namespaceResourceWhitelist"]));
  const nsBlack = list(at(spec, ["namespaceResourceBlacklist"])) ?? [];
  const blocksAll = nsBlack.some((g) => gk(g as GroupKind) === "*/*");
  if (!(nsWhite && nsWhite.length === 0) && !blocksAll)
    problems.push("namespaced kinds must be none (empty whitelist or a */* blacklist)");
  return problems;
}

/** Whether an AppProject's destinations let an app write into Argo CD's own namespace of the ops cluster. */
function reachesArgoNamespace(spec: unknown, ns: string): boolean {
  const destinations = (list(at(spec, ["destinations"])) ?? []) as Record<string, unknown>[];
  const inCluster = (d: Record<string, unknown>) =>
    d.server === IN_CLUSTER_SERVER || d.server === "*" || d.name === "in-cluster" || d.name === "*";
  const denied = destinations.some((d) => inCluster(d) && d.namespace === `!${ns}`);
  const allowed = destinations.some((d) => inCluster(d) && (d.namespace === "*" || d.namespace === ns));
  return allowed && !denied;
}

function createsAppProjects(spec: unknown): boolean {
  const white = list(at(spec, ["namespaceResourceWhitelist"]));
  const black = (list(at(spec, ["namespaceResourceBlacklist"])) ?? []).map((g) => gk(g as GroupKind));
  if (black.includes("argoproj.io/AppProject") || black.includes("*/*") || black.includes("argoproj.io/*"))
    return false;
  if (!white) return true;
  return white.some((g) =>
    ["argoproj.io/AppProject", "*/*", "argoproj.io/*", "*/AppProject"].includes(gk(g as GroupKind)),
  );
}

export const argoCdBoundaries: StackPolicy = {
  kind: "stack",
  name: "argocd-boundaries-not-from-git",
  control: "6.2",
  enforcement: "mandatory",
  description:
    "Argo CD's boundaries cannot be rewritten from Git: the built-in default AppProject has no source repos, no destinations and no kinds; the root Application's project may create only Applications and ApplicationSets (no AppProjects, no cluster Secrets, nothing cluster-scoped); no other project may create AppProjects or write into Argo CD's namespace.",
  remediation:
    "Keep components/argocd/registration.ts lockedDefaultProjectSpec, rootProjectSpec and appProjectSpec (blacklist of Argo CD kinds, `!<argocd namespace>` destination) and the root app in its own project.",
  validate: ({ resources }, ctx) => {
    const argoReleases = resources.filter((r) => r.type === T.helmRelease && r.props.chart === "argo-cd");
    if (argoReleases.length === 0) return [];
    const violations: Violation[] = [];
    const projects = resources.filter(
      (r) => (r.type === T.appProject || r.type === T.appProjectPatch) && inArgoNamespace(r, ctx),
    );
    const named = (name: unknown) => projects.filter((p) => at(p.props, ["metadata", "name"]) === name);

    const defaults = named("default");
    if (defaults.length === 0)
      violations.push({
        message: `the built-in default AppProject in ${ctx.argocdNamespace} is not locked down by this stack`,
      });
    for (const d of defaults) {
      for (const problem of lockedDefaultProblems(d.props.spec))
        violations.push({ resource: resourceId(d), message: `default AppProject: ${problem}` });
    }

    const roots = resources.filter((r) => r.type === T.application && inArgoNamespace(r, ctx));
    if (roots.length === 0) violations.push({ message: "no root Application found in Argo CD's namespace" });
    const rootProjects = new Set<string>();
    for (const app of roots) {
      const projectName = at(app.props, ["spec", "project"]);
      if (isOpaque(projectName)) {
        violations.push({ resource: resourceId(app), message: "its project is not known at preview" });
        continue;
      }
      if (projectName === "default" || projectName === undefined) {
        violations.push({
          resource: resourceId(app),
          message: `${app.name} runs in the default project instead of a root project limited to Applications`,
        });
        continue;
      }
      const project = named(projectName).filter((p) => p.type === T.appProject);
      if (project.length === 0) {
        violations.push({
          resource: resourceId(app),
          message: `${app.name} uses project ${displayText(projectName)}, which this stack does not define`,
        });
        continue;
      }
      for (const p of project) {
        rootProjects.add(p.name);
        const pn = displayText(projectName);
        const spec = p.props.spec;
        if (isOpaque(spec)) {
          violations.push({ resource: resourceId(p), message: "its spec is not known at preview" });
          continue;
        }
        const white = list(at(spec, ["namespaceResourceWhitelist"]));
        if (!white)
          violations.push({
            resource: resourceId(p),
            message: `root project ${pn} has no namespaceResourceWhitelist, so it may create any namespaced kind (AppProjects, cluster Secrets)`,
          });
        for (const g of white ?? []) {
          if (!ROOT_KINDS.has(gk(g as GroupKind)))
            violations.push({
              resource: resourceId(p),
              message: `root project ${pn} may create ${gk(g as GroupKind)}; only Applications and ApplicationSets are allowed`,
            });
        }
        const cluster = list(at(spec, ["clusterResourceWhitelist"]));
        if (!cluster || cluster.length > 0)
          violations.push({
            resource: resourceId(p),
            message: `root project ${pn} may create cluster-scoped resources`,
          });
      }
    }

    for (const p of projects.filter(
      (p) => p.type === T.appProject && !rootProjects.has(p.name) && at(p.props, ["metadata", "name"]) !== "default",
    )) {
      const spec = p.props.spec;
      const pn = String(at(p.props, ["metadata", "name"]));
      if (isOpaque(spec)) {
        violations.push({ resource: resourceId(p), message: "its spec is not known at preview" });
        continue;
      }
      if (createsAppProjects(spec))
        violations.push({ resource: resourceId(p), message: `project ${pn} may create AppProjects` });
      if (reachesArgoNamespace(spec, ctx.argocdNamespace)) {
        violations.push({
          resource: resourceId(p),
          message: `project ${pn} may deploy into ${ctx.argocdNamespace} on the ops cluster, where cluster and repository Secrets live`,
        });
      }
    }
    return violations;
  },
};

/** Client ids (audiences) this stack's apiservers, Argo CD and Grafana trust, with where each was read. */
function trustedClients(resources: readonly PolicyResource[]): { where: string; clientId: unknown }[] {
  const found: { where: string; clientId: unknown }[] = [];
  for (const r of resources) {
    // What each control plane's API server trusts: the evidence on its apply-config step (policy/applied-evidence.ts).
    if (isControlPlaneApplyStep(r)) {
      const evidence = appliedEvidence(r);
      const audiences = evidence === OPAQUE ? OPAQUE : evidence["oidc-audiences"];
      const where = `${stepNode(r)} (apiserver)`;
      if (isOpaque(audiences)) found.push({ where, clientId: audiences });
      else if (typeof audiences === "string")
        for (const a of audiences.split(",").filter(Boolean)) found.push({ where, clientId: a });
    }
    if (r.type === T.helmRelease && r.props.chart === "argo-cd") {
      const oidc = at(r.props, ["values", "configs", "cm", "oidc.config"]);
      const parsed =
        typeof oidc === "string" && !isOpaque(oidc) ? (parseYaml(oidc) as Record<string, unknown> | null) : undefined;
      found.push({ where: `${r.name} (Argo CD)`, clientId: isOpaque(oidc) ? oidc : parsed?.clientID });
    }
    if (r.type === T.helmRelease && r.props.chart === "grafana") {
      found.push({
        where: `${r.name} (Grafana)`,
        clientId: at(r.props, ["values", "grafana.ini", "auth.generic_oauth", "client_id"]),
      });
    }
  }
  return found;
}

export const distinctIdentity: StackPolicy = {
  kind: "stack",
  name: "environments-distinct-oidc-clients",
  control: "6.1",
  enforcement: "mandatory",
  description:
    "No OIDC client (token audience) that this environment's API servers, Argo CD or Grafana trust is also declared by another environment's committed stack file, so a token minted for test or staging is refused here.",
  remediation:
    "Register one Zitadel application per environment and surface, and put its client id in zitadel.kubernetesClientId / argocdClientId / grafanaClientId of that environment's stack file only.",
  validate: ({ resources }, ctx) => {
    const foreign = ctx.foreignClients ?? [];
    const violations: Violation[] = [];
    for (const { where, clientId } of trustedClients(resources)) {
      if (isOpaque(clientId)) {
        violations.push({ message: `${where}: the trusted client id is not known at preview` });
        continue;
      }
      if (typeof clientId !== "string" || clientId === "") {
        violations.push({ message: `${where}: trusts no client id, so any audience would do` });
        continue;
      }
      for (const f of foreign.filter((f) => f.clientId === clientId)) {
        violations.push({
          message: `${where} trusts client ${clientId}, which ${f.file} declares as ${f.environment}'s zitadel.${f.key}: a ${f.environment} token would be accepted in ${ctx.environment}`,
        });
      }
    }
    return violations;
  },
};

export const adminMfa: StackPolicy = {
  kind: "stack",
  name: "platform-admins-need-mfa",
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "Platform admins need a second factor on every surface: zitadel.requireMfa is on, Argo CD grants role:admin only on the MFA-gated groups claim, and Grafana's Admin role requires `mfa` in the ID token's amr (the apiserver's rule is checked by apiserver-audit-and-oidc).",
  remediation:
    "Set zitadel.requireMfa: true and keep components/argocd/values.ts platformAdminSubject/rbacScopes and components/grafana/values.ts roleAttributePath as they are.",
  validate: ({ resources }, ctx) => {
    const violations: Violation[] = [];
    if (!ctx.oidc.requireMfa)
      violations.push({
        message: `zitadel.requireMfa is off in ${ctx.environment}: platform admins can sign in with a password alone`,
      });
    for (const r of resources.filter((r) => r.type === T.helmRelease && r.props.chart === "argo-cd")) {
      const csv = at(r.props, ["values", "configs", "rbac", "policy.csv"]);
      const scopes = at(r.props, ["values", "configs", "rbac", "scopes"]);
      if (typeof csv !== "string" || typeof scopes !== "string") {
        violations.push({ resource: resourceId(r), message: "Argo CD's RBAC is not readable" });
        continue;
      }
      const claims = scopes.replace(/[[\]\s]/g, "").split(",");
      if (!claims.includes("ske_mfa_groups"))
        violations.push({
          resource: resourceId(r),
          message: "Argo CD's RBAC scopes do not include the MFA-gated claim ske_mfa_groups",
        });
      for (const line of csv.split("\n")) {
        const [kind, subject, role] = line.split(",").map((f) => f.trim());
        if (kind === "g" && role === "role:admin" && !subject?.startsWith("mfa:")) {
          violations.push({
            resource: resourceId(r),
            message: `Argo CD grants role:admin to ${subject} without the MFA-gated claim`,
          });
        }
      }
    }
    for (const r of resources.filter((r) => r.type === T.helmRelease && r.props.chart === "grafana")) {
      const path = at(r.props, ["values", "grafana.ini", "auth.generic_oauth", "role_attribute_path"]);
      if (typeof path !== "string") {
        violations.push({ resource: resourceId(r), message: "Grafana's role mapping is not readable" });
        continue;
      }
      for (const clause of path.split("||").filter((c) => /'(Admin|Editor|GrafanaAdmin)'/.test(c))) {
        if (!/contains\(not_null\(amr, `\[\]`\), 'mfa'\)/.test(clause)) {
          violations.push({
            resource: resourceId(r),
            message: `Grafana grants a writing role without mfa in amr: ${clause.trim()}`,
          });
        }
      }
    }
    return violations;
  },
};

export const ACCESS_CONTROL_POLICIES = [argoCdBoundaries, distinctIdentity, adminMfa] as const;
