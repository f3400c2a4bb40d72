/** Argo CD is not reachable from outside the cluster, and its AppProjects deploy only to this environment. */
import { IN_CLUSTER_SERVER } from "../plan/argocd";
import { cidrContains, parseAddress } from "../plan/cidr";
import { at, isOpaque, type PolicyContext, type PolicyResource, type ResourcePolicy } from "./model";
import { TYPES } from "./resource-types";
import { supernetOf } from "./plan-ranges";

export function isArgoCdRelease(r: PolicyResource): boolean {
  return r.type === TYPES.helmRelease && r.props.chart === "argo-cd";
}

/** Every `service.type` and `ingress.enabled` in a values tree, with its path. */
function exposures(values: unknown, path: string[] = []): string[] {
  if (typeof values !== "object" || values === null || Array.isArray(values)) return [];
  const found: string[] = [];
  const v = values as Record<string, unknown>;
  const here = path.join(".");
  // No Array.prototype.at: the CLI compiles the pack with ts-node's ES2020 lib.
  const last = path[path.length - 1];
  if (last === "service" && typeof v.type === "string" && v.type !== "ClusterIP")
    found.push(`${here}.type is ${v.type}`);
  if (last === "ingress" && v.enabled === true) found.push(`${here}.enabled is true`);
  for (const [key, child] of Object.entries(v)) found.push(...exposures(child, [...path, key]));
  return found;
}

export const argoCdNotPublic: ResourcePolicy = {
  kind: "resource",
  name: "argocd-no-public-service",
  control: "6.2",
  enforcement: "mandatory",
  description:
    "Argo CD, the only path from Git to the clusters, has no public endpoint: server service ClusterIP, no ingress, no LoadBalancer or NodePort anywhere in its chart or namespace.",
  remediation:
    "Keep server.service.type ClusterIP and every ingress disabled in components/argocd/values.ts; operators reach Argo CD through the jump host's SSH tunnel.",
  appliesTo: (r, ctx) =>
    isArgoCdRelease(r) || (r.type === TYPES.service && at(r.props, ["metadata", "namespace"]) === ctx.argocdNamespace),
  validate: (r) => {
    if (r.type === TYPES.service) {
      const type = at(r.props, ["spec", "type"]);
      return type === "LoadBalancer" || type === "NodePort"
        ? [`Service ${r.name} in Argo CD's namespace is ${type}`]
        : [];
    }
    const values = r.props.values;
    if (isOpaque(values)) return [`the values of ${r.name} are not known at preview`];
    const problems = exposures(values).map((e) => `${r.name}: ${e}`);
    if (at(values, ["server", "service", "type"]) !== "ClusterIP") {
      problems.push(
        `${r.name}: server.service.type must be set to ClusterIP explicitly (chart defaults change between versions)`,
      );
    }
    return [...new Set(problems)];
  },
};

function destinationProblem(destination: Record<string, unknown>, ctx: PolicyContext): string | undefined {
  const { server, name } = destination;
  if (isOpaque(server) || isOpaque(name)) return "a destination is not known at preview";
  if (server === "*" || name === "*") return "a wildcard destination reaches every registered cluster";
  if (typeof name === "string" && name !== "in-cluster" && !name.startsWith(`${ctx.environment}-`)) {
    return `destination cluster ${name} is not one of ${ctx.environment}'s clusters`;
  }
  if (typeof server !== "string" || server === IN_CLUSTER_SERVER) return undefined;
  let host: string;
  try {
    host = new URL(server).hostname;
  } catch {
    return `destination ${server} is not a URL`;
  }
  if (parseAddress(host) !== undefined) {
    return cidrContains(supernetOf(ctx), `${host}/32`)
      ? undefined
      : `destination ${server} lies outside ${ctx.environment}'s supernet ${supernetOf(ctx)}`;
  }
  // Names follow `<environment>-<site>-<cluster>`; a foreign name is the tell.
  return host.startsWith(`${ctx.environment}-`)
    ? undefined
    : `destination ${server} does not name a ${ctx.environment} cluster`;
}

export const appProjectDestinations: ResourcePolicy = {
  kind: "resource",
  name: "argocd-projects-own-environment",
  control: "6.1",
  enforcement: "mandatory",
  description:
    "Argo CD AppProjects target only their own environment's clusters: no wildcard, no server outside the environment's supernet.",
  remediation:
    "List one destination per cluster of this environment (components/argocd/registration.ts projectDestinations); never a wildcard server.",
  appliesTo: (r) => r.type === TYPES.appProject,
  validate: (r, ctx) => {
    const destinations = at(r.props, ["spec", "destinations"]);
    if (isOpaque(destinations)) return [`${r.name}: destinations are not known at preview`];
    if (!Array.isArray(destinations) || destinations.length === 0) return [`${r.name}: declares no destinations`];
    return destinations.flatMap((d) => {
      const problem = destinationProblem(d as Record<string, unknown>, ctx);
      return problem ? [`${r.name}: ${problem}`] : [];
    });
  },
};
