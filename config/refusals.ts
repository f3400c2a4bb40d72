/**
 * Refusals that keep a control from being configured away. The schema calls
 * these from its refinements, so each problem is reported with its key and
 * the stack file, before any resource is registered.
 *
 * Production and staging run under the same security measures
 * (docs/decisions/production-grade-controls.md); the policies in
 * policy/controls-on.ts judge the same controls on the resources, so a
 * config that slipped past these checks still gets a FAIL in compliance.md.
 */
import type { z } from "zod";
import { chartVersionProblem, kubernetesVersionProblem, talosVersionProblem, type ChartName } from "../plan/versions";

/** Environments that run production's security measures. */
export const PRODUCTION_GRADE = ["production", "staging"] as const;

/**
 * Minimum object-lock period of the audit archive in production and staging:
 * one year, so a year of audit events can be produced unaltered (why 365:
 * docs/decisions/production-grade-controls.md).
 */
export const MIN_PRODUCTION_LOCK_DAYS = 365;

/** Odd, so etcd keeps quorum; at least 3, so losing one node keeps it. */
export const MIN_PRODUCTION_CONTROL_PLANE = 3;

/** The parts of the parsed config these checks read. */
export interface RefusalInput {
  environment: string;
  sites: Record<string, { nodes: { controlPlane: number } }>;
  clusters: {
    ops: { nodes: { controlPlane: number } };
    talosVersion: string;
    kubernetesVersion: string;
    ciliumChartVersion: string;
  };
  argocd: { chartVersion: string };
  zitadel: { requireMfa: boolean; groupsPrefix: string; platformGroup: string; auditorGroup: string };
  audit: {
    lockDays: number;
    charts: Record<"loki" | "grafana" | "collector", { version: string }>;
    siem?: { auth?: unknown };
  };
  siemToken?: string;
  monitoring?: { charts: Record<"metrics" | "agent", { version: string }> };
  protection: { statefulResources: boolean; allowUnprotectedProduction: boolean };
  layers: Record<"clusters" | "bootstrap" | "kubernetes" | "github", boolean>;
}

type Issue = { path: (string | number)[]; message: string };

export function isProductionGrade(environment: string): boolean {
  return (PRODUCTION_GRADE as readonly string[]).includes(environment);
}

/** Versions a renderer depends on, judged against plan/versions.ts. */
export function versionIssues(config: RefusalInput): Issue[] {
  const issues: Issue[] = [];
  const talos = talosVersionProblem(config.clusters.talosVersion);
  if (talos) issues.push({ path: ["clusters", "talosVersion"], message: talos });
  const kubernetes = kubernetesVersionProblem(config.clusters.kubernetesVersion, config.clusters.talosVersion);
  if (kubernetes) issues.push({ path: ["clusters", "kubernetesVersion"], message: kubernetes });
  const charts: [ChartName, (string | number)[], string][] = [
    ["cilium", ["clusters", "ciliumChartVersion"], config.clusters.ciliumChartVersion],
    ["argo-cd", ["argocd", "chartVersion"], config.argocd.chartVersion],
    ["loki", ["audit", "charts", "loki", "version"], config.audit.charts.loki.version],
    ["grafana", ["audit", "charts", "grafana", "version"], config.audit.charts.grafana.version],
    ["vector", ["audit", "charts", "collector", "version"], config.audit.charts.collector.version],
    ...(config.monitoring
      ? ([
          [
            "victoria-metrics-single",
            ["monitoring", "charts", "metrics", "version"],
            config.monitoring.charts.metrics.version,
          ],
          [
            "victoria-metrics-agent",
            ["monitoring", "charts", "agent", "version"],
            config.monitoring.charts.agent.version,
          ],
        ] satisfies [ChartName, (string | number)[], string][])
      : []),
  ];
  for (const [chart, path, version] of charts) {
    const problem = chartVersionProblem(chart, version);
    if (problem) issues.push({ path, message: problem });
  }
  return issues;
}

/** Controls no environment may configure away. */
export function everyEnvironmentIssues(config: RefusalInput): Issue[] {
  const issues: Issue[] = [];
  // The apiserver prepends this to every group in a token: "system:" would let
  // an identity-provider group named "masters" become system:masters.
  if (config.audit.siem?.auth && config.siemToken === undefined) {
    issues.push({
      path: ["siemToken"],
      message: "audit.siem.auth needs the SIEM's token: pulumi config set --secret siemToken <token>",
    });
  }
  if (config.siemToken !== undefined && !config.audit.siem?.auth) {
    issues.push({
      path: ["siemToken"],
      message: "a SIEM token is set but audit.siem.auth does not say how to send it",
    });
  }
  // Auditors are read-only only while they are not also the platform group.
  if (config.zitadel.auditorGroup === config.zitadel.platformGroup) {
    issues.push({
      path: ["zitadel", "auditorGroup"],
      message: `the auditor group cannot be the platform group ("${config.zitadel.platformGroup}"): auditors would get the platform team's write access`,
    });
  }
  if (config.zitadel.groupsPrefix.startsWith("system:")) {
    issues.push({
      path: ["zitadel", "groupsPrefix"],
      message: `"${config.zitadel.groupsPrefix}" would let OIDC groups become Kubernetes system: groups (system:masters); use a prefix such as zitadel:`,
    });
  }
  return issues;
}

/** Controls production and staging may not switch off. */
export function productionGradeIssues(config: RefusalInput): Issue[] {
  if (!isProductionGrade(config.environment)) return [];
  const env = config.environment;
  const issues: Issue[] = [];
  const refuse = (path: (string | number)[], message: string) =>
    issues.push({
      path,
      message: `${env} keeps this control on (production and staging run the same security measures): ${message}`,
    });

  if (!config.zitadel.requireMfa) refuse(["zitadel", "requireMfa"], "MFA cannot be switched off; set requireMfa: true");
  for (const layer of ["clusters", "bootstrap", "kubernetes", "github"] as const) {
    if (!config.layers[layer]) {
      refuse(
        ["layers", layer],
        `the ${layer} layer carries controls (${LAYER_CONTROLS[layer]}) and cannot be switched off`,
      );
    }
  }
  if (config.audit.lockDays < MIN_PRODUCTION_LOCK_DAYS) {
    refuse(
      ["audit", "lockDays"],
      `the audit archive needs long-term secure retention: at least ${MIN_PRODUCTION_LOCK_DAYS} days of object lock (got ${config.audit.lockDays})`,
    );
  }
  const quorum = (count: number) => count >= MIN_PRODUCTION_CONTROL_PLANE && count % 2 === 1;
  if (!quorum(config.clusters.ops.nodes.controlPlane)) {
    refuse(
      ["clusters", "ops", "nodes", "controlPlane"],
      `a control plane of ${config.clusters.ops.nodes.controlPlane} has no etcd quorum to lose a node with; use an odd count of at least ${MIN_PRODUCTION_CONTROL_PLANE}`,
    );
  }
  for (const [site, siteConfig] of Object.entries(config.sites)) {
    if (!quorum(siteConfig.nodes.controlPlane)) {
      refuse(
        ["sites", site, "nodes", "controlPlane"],
        `a control plane of ${siteConfig.nodes.controlPlane} has no etcd quorum to lose a node with; use an odd count of at least ${MIN_PRODUCTION_CONTROL_PLANE}`,
      );
    }
  }
  if (env === "staging" && !config.protection.statefulResources) {
    refuse(
      ["protection", "statefulResources"],
      "stateful resources (control planes, machine secrets) stay protected; set statefulResources: true",
    );
  }
  if (env === "staging" && config.protection.allowUnprotectedProduction) {
    refuse(
      ["protection", "allowUnprotectedProduction"],
      "the override is for production's own decommissioning only and means nothing here; remove it",
    );
  }
  return issues;
}

const LAYER_CONTROLS: Record<RefusalInput["layers"] extends Record<infer K, boolean> ? K : never, string> = {
  clusters: "the apiserver audit policy, OIDC with MFA, protected control planes",
  bootstrap: "the cluster that the audit, OIDC and RBAC controls run in",
  kubernetes: "auditor RBAC, the audit collectors, the object-lock archive, Argo CD",
  github: "branch protection of main, deployment-environment approvals",
};

/** Adds every refusal of this module to a zod refinement context. */
export function addRefusals(config: RefusalInput, ctx: z.RefinementCtx): void {
  for (const issue of [...versionIssues(config), ...everyEnvironmentIssues(config), ...productionGradeIssues(config)]) {
    ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
  }
}
