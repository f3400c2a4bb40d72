/**
 * Controls on the audit trail itself (issue 11 B1, B2): Loki is reached from
 * outside only through an authenticating push-only gateway, and the archive
 * is written by collector identities that can only put objects. Pure
 * policies over resource records, registered in policy/policies.ts.
 */
import { gatewayConfigFacts } from "../components/audit-trail/ingest-gateway";
import { AUDIT_INGEST_PORT } from "../plan/security-rules";
import { at, field, isOpaque, resourceId, type PolicyResource, type StackPolicy, type Violation } from "./model";
import { archiveWritersPutOnly, needsDevDependency } from "./archive-writers";
import { gatewayBaselineProblems } from "./gateway-config";

const T = {
  service: "kubernetes:core/v1:Service",
  deployment: "kubernetes:apps/v1:Deployment",
  configMap: "kubernetes:core/v1:ConfigMap",
  networkPolicy: "kubernetes:networking.k8s.io/v1:NetworkPolicy",
  helmRelease: "kubernetes:helm.sh/v3:Release",
} as const;

const PUSH_LOCATION = "= /loki/api/v1/push";
const ns = (r: PolicyResource) => at(r.props, ["metadata", "namespace"]);
const labelsMatch = (selector: unknown, labels: unknown) =>
  typeof selector === "object" &&
  selector !== null &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => (labels as Record<string, unknown> | undefined)?.[k] === v);
const isLokiSelector = (selector: unknown) =>
  (selector as Record<string, unknown> | undefined)?.["app.kubernetes.io/name"] === "loki";

/** The nginx configs mounted by the Deployments a Service selects. */
function gatewayConfigsBehind(
  service: PolicyResource,
  resources: readonly PolicyResource[],
): { deployment: PolicyResource; config: unknown }[] {
  const selector = at(service.props, ["spec", "selector"]);
  return resources
    .filter(
      (d) =>
        d.type === T.deployment &&
        ns(d) === ns(service) &&
        labelsMatch(selector, at(d.props, ["spec", "template", "metadata", "labels"])),
    )
    .flatMap((deployment) => {
      const volumes =
        (at(deployment.props, ["spec", "template", "spec", "volumes"]) as Record<string, unknown>[] | undefined) ?? [];
      const names = volumes
        .map((v) => field(field(v, "configMap"), "name"))
        .filter((n): n is string => typeof n === "string");
      const maps = resources.filter(
        (c) =>
          c.type === T.configMap && ns(c) === ns(service) && names.includes(String(at(c.props, ["metadata", "name"]))),
      );
      return maps.map((c) => ({ deployment, config: at(c.props, ["data", "nginx.conf"]) }));
    });
}

export const lokiIngestAuthenticated: StackPolicy = {
  kind: "stack",
  name: "loki-ingest-authenticated-push-only",
  control: "6.5-audit",
  enforcement: "mandatory",
  description: `The audit ingest (NodePort ${AUDIT_INGEST_PORT}, forwarded by the ops HAProxy pair) reaches an nginx gateway that speaks only TLS, proxies only POST ${PUSH_LOCATION.slice(2)} with basic auth and refuses every other path, so Loki's query API is not on it; collectors verify the gateway's certificate against the environment's ingest CA; no Service exposes Loki itself outside the cluster; a NetworkPolicy admits only the gateway and Grafana to Loki; every collector pushes with its own credential from a Secret.`,
  remediation:
    "Keep components/audit-trail AuditLogStore's ingest gateway (ingest-gateway.ts nginxConfig) behind the NodePort, the loki-ingress NetworkPolicy, and collectorValues' basic auth with LOKI_PUSH_PASSWORD from the loki-push-credentials Secret.",
  validate: ({ resources }) => {
    const lokiReleases = resources.filter((r) => r.type === T.helmRelease && r.props.chart === "loki");
    if (lokiReleases.length === 0) return [];
    const lokiNamespaces = new Set(lokiReleases.map((r) => r.props.namespace));
    const services = resources.filter((r) => r.type === T.service);
    return [
      ...lokiExposedByServices(services),
      ...ingestGatewayProblems(services, resources),
      ...lokiNetworkPolicyProblems(resources, lokiNamespaces),
      ...collectorPushProblems(resources),
    ];
  },
};

/** Services that put Loki's own API (queries included) on a node or load-balancer port. */
function lokiExposedByServices(services: readonly PolicyResource[]): Violation[] {
  const violations: Violation[] = [];
  for (const svc of services) {
    const type = at(svc.props, ["spec", "type"]);
    if ((type === "NodePort" || type === "LoadBalancer") && isLokiSelector(at(svc.props, ["spec", "selector"]))) {
      violations.push({
        resource: resourceId(svc),
        message: `${svc.name} exposes Loki's own API (queries included) as ${String(type)}`,
      });
    }
  }
  return violations;
}

/** The audit ingest NodePort must lead to gateways that are TLS-only, push-only and authenticated. */
function ingestGatewayProblems(services: readonly PolicyResource[], resources: readonly PolicyResource[]): Violation[] {
  const violations: Violation[] = [];
  const ingest = services.filter((s) =>
    ((at(s.props, ["spec", "ports"]) as Record<string, unknown>[] | undefined) ?? []).some(
      (p) => p.nodePort === AUDIT_INGEST_PORT,
    ),
  );
  if (ingest.length === 0)
    violations.push({ message: `no Service serves the audit ingest NodePort ${AUDIT_INGEST_PORT}` });
  for (const svc of ingest) {
    const gateways = gatewayConfigsBehind(svc, resources);
    if (gateways.length === 0)
      violations.push({
        resource: resourceId(svc),
        message: `${svc.name} forwards the ingest to pods that mount no gateway config, so pushes are not authenticated`,
      });
    for (const { deployment, config } of gateways) violations.push(...gatewayConfigProblems(deployment, config));
  }
  return violations;
}

/** What one gateway's nginx config lets through besides an authenticated push over TLS. */
function gatewayConfigProblems(deployment: PolicyResource, config: unknown): Violation[] {
  if (isOpaque(config) || typeof config !== "string")
    return [{ resource: resourceId(deployment), message: "the gateway config is not readable" }];
  const violations: Violation[] = [];
  const facts = gatewayConfigFacts(config);
  const extra = facts.proxiedLocations.filter((l) => l !== PUSH_LOCATION);
  if (extra.length > 0)
    violations.push({
      resource: resourceId(deployment),
      message: `the ingest gateway also proxies ${extra.join(", ")}; only ${PUSH_LOCATION} may reach Loki`,
    });
  violations.push(...gatewayBaselineProblems(deployment, facts, "the ingest gateway"));
  return violations;
}

/** Inside the ops cluster, a NetworkPolicy must name who may reach Loki's API. */
function lokiNetworkPolicyProblems(resources: readonly PolicyResource[], lokiNamespaces: Set<unknown>): Violation[] {
  const violations: Violation[] = [];
  const guarded = resources.filter(
    (r) =>
      r.type === T.networkPolicy &&
      lokiNamespaces.has(ns(r)) &&
      isLokiSelector(at(r.props, ["spec", "podSelector", "matchLabels"])),
  );
  if (guarded.length === 0)
    violations.push({ message: "no NetworkPolicy limits who reaches Loki's API inside the ops cluster" });
  for (const np of guarded) {
    const rules = (at(np.props, ["spec", "ingress"]) as Record<string, unknown>[] | undefined) ?? [];
    if (rules.some((r) => !Array.isArray(r.from) || r.from.length === 0))
      violations.push({ resource: resourceId(np), message: `${np.name} admits every source` });
  }
  return violations;
}

/** Every collector pushes with its own credential from a Secret, over TLS it verifies. */
function collectorPushProblems(resources: readonly PolicyResource[]): Violation[] {
  const violations: Violation[] = [];
  for (const collector of resources.filter((r) => r.type === T.helmRelease && r.props.chart === "vector")) {
    const sink = at(collector.props, ["values", "customConfig", "sinks", "loki"]) as
      Record<string, unknown> | undefined;
    if (isOpaque(sink)) {
      violations.push({ resource: resourceId(collector), message: "its Loki sink is not known at preview" });
      continue;
    }
    if (!sink) continue;
    const auth = sink.auth as Record<string, unknown> | undefined;
    if (auth?.strategy !== "basic" || typeof auth.user !== "string" || !auth.user) {
      violations.push({
        resource: resourceId(collector),
        message: `${collector.name} pushes to Loki without a credential`,
      });
    } else if (typeof auth.password !== "string" || !/^\$\{[A-Z_]+\}$/.test(auth.password)) {
      violations.push({
        resource: resourceId(collector),
        message: `${collector.name} has its push password inline instead of from a Secret`,
      });
    }
    const endpoint = sink.endpoint;
    const tls = sink.tls as Record<string, unknown> | undefined;
    if (isOpaque(endpoint))
      violations.push({
        resource: resourceId(collector),
        message: `${collector.name}: its Loki endpoint is not known at preview`,
      });
    else if (
      typeof endpoint !== "string" ||
      !endpoint.startsWith("https://") ||
      typeof tls?.ca_file !== "string" ||
      tls.verify_certificate === false ||
      tls.verify_hostname === false
    ) {
      violations.push({
        resource: resourceId(collector),
        message: `${collector.name} pushes to ${String(endpoint)} without verified TLS`,
      });
    }
  }
  return violations;
}

export { archiveWritersPutOnly, needsDevDependency };

export const AUDIT_TRAIL_POLICIES = [lokiIngestAuthenticated, archiveWritersPutOnly] as const;
