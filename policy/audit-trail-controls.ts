/**
 * Controls on the audit trail itself (issue 11 B1, B2): Loki is reached from
 * outside only through an authenticating push-only gateway, and the archive
 * is written by collector identities that can only put objects. Pure
 * policies over resource records, registered in policy/policies.ts.
 */
import { gatewayConfigFacts } from "../components/audit-trail/ingest-gateway";
import { AUDIT_INGEST_PORT } from "../plan/security-rules";
import {
  OPAQUE,
  at,
  field,
  isOpaque,
  resourceId,
  typeChain,
  type PolicyResource,
  type StackPolicy,
  type Violation,
} from "./model";
import { bucketsOf } from "./project-separation";
import { isPlatformLogCollector } from "./central-view";
import { displayText } from "../plan/display-text";

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
    const violations: Violation[] = [];
    const lokiReleases = resources.filter((r) => r.type === T.helmRelease && r.props.chart === "loki");
    if (lokiReleases.length === 0) return [];
    const lokiNamespaces = new Set(lokiReleases.map((r) => r.props.namespace));
    const services = resources.filter((r) => r.type === T.service);

    for (const svc of services) {
      const type = at(svc.props, ["spec", "type"]);
      if ((type === "NodePort" || type === "LoadBalancer") && isLokiSelector(at(svc.props, ["spec", "selector"]))) {
        violations.push({
          resource: resourceId(svc),
          message: `${svc.name} exposes Loki's own API (queries included) as ${String(type)}`,
        });
      }
    }
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
      for (const { deployment, config } of gateways) {
        if (isOpaque(config) || typeof config !== "string") {
          violations.push({ resource: resourceId(deployment), message: "the gateway config is not readable" });
          continue;
        }
        const facts = gatewayConfigFacts(config);
        const extra = facts.proxiedLocations.filter((l) => l !== PUSH_LOCATION);
        if (extra.length > 0)
          violations.push({
            resource: resourceId(deployment),
            message: `the ingest gateway also proxies ${extra.join(", ")}; only ${PUSH_LOCATION} may reach Loki`,
          });
        for (const l of facts.proxiedLocations.filter((l) => !facts.authenticatedLocations.includes(l))) {
          violations.push({
            resource: resourceId(deployment),
            message: `the ingest gateway proxies ${l} without basic auth`,
          });
        }
        if (!facts.catchAllRefuses)
          violations.push({
            resource: resourceId(deployment),
            message: "the ingest gateway does not refuse every other path",
          });
        if (!facts.tlsOnly)
          violations.push({
            resource: resourceId(deployment),
            message: "the ingest gateway accepts connections without TLS, so push credentials travel in clear",
          });
      }
    }

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
  },
};

// ---- The archive's writers ------------------------------------------------------

const EC2 = "openstack:identity/ec2CredentialV3:Ec2CredentialV3";
const COMMAND = "command:local:Command";
const SECRET = "kubernetes:core/v1:Secret";
const WRITER_PROJECT = "ske-platform/archive-writer-project";
const WRITER_CREDENTIAL = "ske-platform/archive-writer-credential";
/** What a writer must be denied explicitly; the policy's own list, not the component's. */
const MUST_DENY = [
  "s3:DeleteObject",
  "s3:DeleteObjectVersion",
  "s3:PutObjectRetention",
  "s3:BypassGovernanceRetention",
  "s3:PutBucketObjectLockConfiguration",
  "s3:PutBucketPolicy",
  "s3:DeleteBucketPolicy",
  "s3:PutLifecycleConfiguration",
  "s3:DeleteBucket",
];
const asList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [displayText(v)]);

/** The archive's one bucket policy, read where object-storage-in-environment reads it: what the reconciler sets. */
function bucketPolicyOf(reconcile: PolicyResource): { bucket: string; statements: Record<string, unknown>[] } | string {
  const [archive] = bucketsOf([reconcile]);
  if (isOpaque(reconcile.props.environment) || archive?.policy === OPAQUE)
    return "its settings are not known at preview";
  if (!archive || archive.policy === undefined) return "it declares no bucket policy for the writers";
  const doc = archive.policy as { Statement?: unknown; unparsable?: unknown };
  if (doc.unparsable !== undefined) return "its bucket policy is not JSON";
  return {
    bucket: archive.bucket,
    statements: (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Record<string, unknown>[],
  };
}

/** A reconciler command that needs more than plain Node and the runtime dependencies at deploy time. */
export const needsDevDependency = (command: unknown): command is string =>
  typeof command === "string" && (!/^node\s/.test(command) || /\b(tsx|npx|ts-node|esbuild)\b/.test(command));

export const archiveWritersPutOnly: StackPolicy = {
  kind: "stack",
  name: "archive-writers-put-only",
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "The audit archive is append-only in practice: each collector holds the EC2 credential of its own Keystone writer project, never the deploy identity's (the bucket owner's); the bucket policy lets that project put objects under its cluster's prefix and nothing else, and explicitly denies it deletes and lock, policy or lifecycle changes; the reconciler runs on plain Node, with no devDependency.",
  remediation:
    "Give every cluster its own audit.archive.writerProjects entry, hand the collector only that project's credential (stacks/gitops.ts), and keep plan/bucket-policy.ts archiveBucketPolicy (Allow s3:PutObject on <bucket>/<cluster>/*, Deny everything else that matters).",
  validate: ({ resources }) => {
    // The platform-log collector has no archive sink; only audit collectors write to the archive.
    const collectors = resources.filter(
      (r) => r.type === T.helmRelease && r.props.chart === "vector" && !isPlatformLogCollector(r),
    );
    if (collectors.length === 0) return [];
    const violations: Violation[] = [];
    // The same reconciler makes the etcd backup buckets; policy etcd-backups-put-only judges those.
    const reconcilers = resources.filter(
      (r) =>
        r.type === COMMAND &&
        typeof r.props.create === "string" &&
        r.props.create.includes("audit-archive-bucket") &&
        !typeChain(r).includes("ske:backup:EtcdBackupBucket"),
    );
    if (reconcilers.length === 0)
      return [
        {
          message:
            "the collectors write to an archive that no reconciler configures, so nothing limits what their credential may do",
        },
      ];
    const credentials = resources.filter((r) => r.type === EC2);
    const ownerCredentials = new Set(credentials.filter((c) => !c.props.projectId).map((c) => c.name));

    for (const reconcile of reconcilers) {
      for (const command of [reconcile.props.create, reconcile.props.update]) {
        if (needsDevDependency(command)) {
          violations.push({
            resource: resourceId(reconcile),
            message: `the archive reconciler runs \`${command}\`, which needs a devDependency at deploy time`,
          });
        }
      }
    }
    const policy = bucketPolicyOf(reconcilers[0]!);
    if (typeof policy === "string")
      return [...violations, { resource: resourceId(reconcilers[0]!), message: `archive reconciler: ${policy}` }];
    const allows = policy.statements.filter((s) => s?.Effect === "Allow");
    const denies = policy.statements.filter((s) => s?.Effect === "Deny");
    for (const s of allows) {
      const principals = s.Principal === "*" ? ["*"] : asList(field(s.Principal, "AWS") ?? s.Principal);
      if (principals.includes("*"))
        violations.push({ message: `the archive's bucket policy allows ${asList(s.Action).join(", ")} to anyone` });
      const extra = asList(s.Action).filter((a) => a !== "s3:PutObject");
      if (extra.length > 0)
        violations.push({
          message: `the archive's bucket policy allows ${extra.join(", ")} to ${principals.join(", ")}`,
        });
    }

    const writersSeen = new Map<string, string>();
    for (const collector of collectors) {
      const secret = resources.find(
        (r) => r.type === SECRET && r.name === collector.name.replace(/-vector$/, "-archive-credentials"),
      );
      const annotations = (secret ? at(secret.props, ["metadata", "annotations"]) : undefined) as
        Record<string, unknown> | undefined;
      const project = annotations?.[WRITER_PROJECT];
      const credentialName = annotations?.[WRITER_CREDENTIAL];
      if (!secret || typeof project !== "string" || typeof credentialName !== "string") {
        violations.push({
          resource: resourceId(collector),
          message: `${collector.name}: its archive credential names no writer identity, so it may be the deploy identity's`,
        });
        continue;
      }
      const credential = credentials.find((c) => c.name === credentialName);
      if (!credential)
        violations.push({
          resource: resourceId(collector),
          message: `${collector.name}: its archive credential ${credentialName} is not created by this stack`,
        });
      else if (ownerCredentials.has(credential.name) || credential.props.projectId !== project) {
        violations.push({
          resource: resourceId(collector),
          message: `${collector.name} holds ${credential.name}, the deploy identity's credential (the bucket owner), which can delete and reconfigure the archive`,
        });
      }
      const other = writersSeen.get(project);
      if (other)
        violations.push({
          resource: resourceId(collector),
          message: `${collector.name} writes as project ${project}, like ${other}, so each could write under the other's prefix`,
        });
      writersSeen.set(project, collector.name);

      const prefix = at(collector.props, ["values", "customConfig", "sinks", "archive", "key_prefix"]);
      if (isOpaque(prefix)) {
        violations.push({
          resource: resourceId(collector),
          message: `${collector.name}: its archive sink is not known at preview`,
        });
        continue;
      }
      const clusterDir = typeof prefix === "string" ? prefix.split("/")[0] : undefined;
      const principal = `arn:aws:iam:::user/${project}`;
      const granted = allows.filter((s) => asList(field(s.Principal, "AWS") ?? s.Principal).includes(principal));
      const resourcesGranted = granted.flatMap((s) => asList(s.Resource));
      if (granted.length === 0)
        violations.push({
          resource: resourceId(collector),
          message: `${collector.name}: the bucket policy grants its writer ${principal} nothing, so it cannot archive`,
        });
      else if (!clusterDir || resourcesGranted.some((r) => r !== `arn:aws:s3:::${policy.bucket}/${clusterDir}/*`)) {
        violations.push({
          resource: resourceId(collector),
          message: `${collector.name}: its writer may put to ${resourcesGranted.join(", ")}, not only under its own prefix ${clusterDir ?? "(none)"}/`,
        });
      }
      const denied = new Set(
        denies
          .filter((s) => asList(field(s.Principal, "AWS") ?? s.Principal).includes(principal))
          .flatMap((s) => asList(s.Action)),
      );
      const missing = MUST_DENY.filter((a) => !denied.has(a));
      if (missing.length > 0)
        violations.push({
          resource: resourceId(collector),
          message: `${collector.name}: the bucket policy does not deny its writer ${missing.join(", ")}`,
        });
    }
    return violations;
  },
};

export const AUDIT_TRAIL_POLICIES = [lokiIngestAuthenticated, archiveWritersPutOnly] as const;
