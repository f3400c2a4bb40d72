/**
 * The gateways and pushers of the central view's ingest, read from resource
 * records: which nginx configs sit behind an ingest NodePort, whether the
 * gateway serves a TLS Secret, and whether every pusher verifies it. Used by
 * the policies in policy/central-view.ts.
 */
import { at, field, isOpaque, resourceId, type PolicyResource, type Violation } from "./model";

const T = {
  service: "kubernetes:core/v1:Service",
  deployment: "kubernetes:apps/v1:Deployment",
  configMap: "kubernetes:core/v1:ConfigMap",
  helmRelease: "kubernetes:helm.sh/v3:Release",
  secret: "kubernetes:core/v1:Secret",
} as const;

const ns = (r: PolicyResource) => at(r.props, ["metadata", "namespace"]);
export const release = (r: PolicyResource, chart: string) => r.type === T.helmRelease && r.props.chart === chart;

/** The central view's pod-log collector: the vector release named platform-logs. Every other vector release is an audit collector. */
export function isPlatformLogCollector(r: PolicyResource): boolean {
  return release(r, "vector") && r.props.name === "platform-logs";
}

/** Gateway configs mounted by the Deployments behind the Service on a NodePort. */
export function gatewaysOnNodePort(
  port: number,
  resources: readonly PolicyResource[],
): { service?: PolicyResource; configs: { deployment: PolicyResource; config: unknown }[] } {
  const service = resources.find(
    (s) =>
      s.type === T.service &&
      ((at(s.props, ["spec", "ports"]) as Record<string, unknown>[] | undefined) ?? []).some(
        (p) => p.nodePort === port,
      ),
  );
  if (!service) return { configs: [] };
  const selector = (at(service.props, ["spec", "selector"]) as Record<string, unknown> | undefined) ?? {};
  const configs = resources
    .filter((d) => d.type === T.deployment && ns(d) === ns(service))
    .filter((d) => {
      const labels =
        (at(d.props, ["spec", "template", "metadata", "labels"]) as Record<string, unknown> | undefined) ?? {};
      return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
    })
    .flatMap((deployment) => {
      const volumes =
        (at(deployment.props, ["spec", "template", "spec", "volumes"]) as Record<string, unknown>[] | undefined) ?? [];
      const names = volumes
        .map((v) => field(field(v, "configMap"), "name"))
        .filter((n): n is string => typeof n === "string");
      return resources
        .filter(
          (c) =>
            c.type === T.configMap &&
            ns(c) === ns(service) &&
            names.includes(String(at(c.props, ["metadata", "name"]))),
        )
        .map((c) => ({ deployment, config: at(c.props, ["data", "nginx.conf"]) }));
    });
  return { service, configs };
}

/** The gateway pod mounts a `kubernetes.io/tls` Secret that the stack declares in the gateway's namespace. */
export function servesTlsSecret(deployment: PolicyResource, resources: readonly PolicyResource[]): boolean {
  const volumes =
    (at(deployment.props, ["spec", "template", "spec", "volumes"]) as Record<string, unknown>[] | undefined) ?? [];
  const secretNames = volumes
    .map((v) => field(field(v, "secret"), "secretName"))
    .filter((n): n is string => typeof n === "string");
  return resources.some(
    (r) =>
      r.type === T.secret &&
      ns(r) === ns(deployment) &&
      at(r.props, ["type"]) === "kubernetes.io/tls" &&
      secretNames.includes(String(at(r.props, ["metadata", "name"]))),
  );
}

/**
 * Both pushers of every cluster must speak https to the gateway and check its
 * certificate against a CA file: the metrics agent (vmagent flags) and the
 * platform-log collector (its Vector Loki sink).
 */
export function unverifiedPushers(resources: readonly PolicyResource[]): Violation[] {
  const violations: Violation[] = [];
  for (const agent of resources.filter((r) => release(r, "victoria-metrics-agent"))) {
    const values = agent.props.values;
    if (isOpaque(values)) {
      violations.push({
        resource: resourceId(agent),
        message: `${agent.name}: its remote write is not known at preview`,
      });
      continue;
    }
    const urls = ((at(values, ["remoteWrite"]) as Record<string, unknown>[] | undefined) ?? []).map((w) => w?.url);
    const args = (at(values, ["extraArgs"]) as Record<string, unknown> | undefined) ?? {};
    const verified =
      typeof args["remoteWrite.tlsCAFile"] === "string" &&
      args["remoteWrite.tlsCAFile"] !== "" &&
      args["remoteWrite.tlsInsecureSkipVerify"] !== true &&
      args["remoteWrite.tlsInsecureSkipVerify"] !== "true";
    for (const url of urls.length === 0 ? [undefined] : urls) {
      if (isOpaque(url))
        violations.push({
          resource: resourceId(agent),
          message: `${agent.name}: its remote write URL is not known at preview`,
        });
      else if (typeof url !== "string" || !url.startsWith("https://") || !verified)
        violations.push({
          resource: resourceId(agent),
          message: `${agent.name} writes metrics to ${String(url)} without verified TLS`,
        });
    }
  }
  for (const collector of resources.filter(isPlatformLogCollector)) {
    const sink = at(collector.props.values, ["customConfig", "sinks", "loki"]) as Record<string, unknown> | undefined;
    if (isOpaque(collector.props.values) || isOpaque(sink?.endpoint)) {
      violations.push({
        resource: resourceId(collector),
        message: `${collector.name}: its Loki endpoint is not known at preview`,
      });
      continue;
    }
    const tls = sink?.tls as Record<string, unknown> | undefined;
    if (
      typeof sink?.endpoint !== "string" ||
      !sink.endpoint.startsWith("https://") ||
      typeof tls?.ca_file !== "string" ||
      tls.verify_certificate === false ||
      tls.verify_hostname === false
    ) {
      violations.push({
        resource: resourceId(collector),
        message: `${collector.name} pushes platform logs to ${String(sink?.endpoint)} without verified TLS`,
      });
    }
  }
  return violations;
}
