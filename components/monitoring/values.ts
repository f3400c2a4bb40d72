/**
 * Helm values of the central view as typed data: the metrics store in the
 * ops cluster, the metrics agent and the platform-log collector in every
 * cluster, and the platform ingest gateway in front of both stores. Pure.
 */
import {
  INGEST_CA_CONFIGMAP,
  INGEST_CA_DIR,
  INGEST_CA_KEY,
  LOKI_PUSH_PATH,
  pushGatewayConfig,
  type GatewayLocation,
} from "../audit-trail/ingest-gateway";
import { CAPI_NAMESPACES, CLUSTER_API_VERSIONS } from "../../plan/cluster-api";
import {
  JOB_METRICS,
  PLATFORM_LOG_TENANT,
  SCRAPE_JOBS,
  metricsRetention,
  type MonitoredCluster,
} from "../../plan/monitoring";
import { ETCD_METRICS_PORT } from "../../plan/security-rules";
import { COLLECTOR_RESOURCES } from "../../plan/workload-resources";

export const METRICS_HTTP_PORT = 8428;
export const METRICS_WRITE_PATH = "/api/v1/write";
/** fullnameOverride of the store; the chart names its server Service `<fullname>-server`. */
export const METRICS_STORE_NAME = "victoria-metrics";
export const METRICS_STORE_LABELS = { "app.kubernetes.io/name": "victoria-metrics-single" } as const;

export const PLATFORM_GATEWAY_NAME = "platform-ingest-gateway";
/** The gateway's in-cluster name, dialled by the ops cluster's own pushers; also a name in its certificate. */
export const platformGatewayHost = (namespace: string) => `${PLATFORM_GATEWAY_NAME}.${namespace}.svc.cluster.local`;
export const PLATFORM_GATEWAY_LABELS = {
  "app.kubernetes.io/name": PLATFORM_GATEWAY_NAME,
  "app.kubernetes.io/part-of": "central-view",
} as const;

/** The Secret holding a cluster's credential at the platform ingest gateway. */
export const PLATFORM_PUSH_SECRET = "platform-push-credentials";
export const PLATFORM_PUSH_SECRET_KEY = "password";
const PUSH_SECRET_DIR = "/etc/platform-push";

/** Where containerd writes every container's log on a Talos node: /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log. */
export const POD_LOG_DIR = "/var/log/pods";
/** The platform's namespaces whose logs are collected; customer workloads are not platform logs. */
export const PLATFORM_NAMESPACES: readonly string[] = [
  "kube-system",
  "argocd",
  "audit-logs",
  "audit-collector",
  "monitoring",
  "metrics",
  "metrics-agent",
  "platform-logs",
  // Cluster API on the management clusters: the operator, cert-manager and each provider's controllers.
  CAPI_NAMESPACES.certManager,
  CAPI_NAMESPACES.operator,
  CLUSTER_API_VERSIONS.core.namespace,
  CLUSTER_API_VERSIONS.infrastructure.namespace,
  CLUSTER_API_VERSIONS.bootstrap.namespace,
  CLUSTER_API_VERSIONS.controlPlane.namespace,
];

/** The ingest CA (the same CA as the audit ingest's), mounted from a ConfigMap in each pusher's namespace. */
export const PLATFORM_INGEST_CA = { configMap: INGEST_CA_CONFIGMAP, dir: INGEST_CA_DIR, key: INGEST_CA_KEY } as const;
const caFile = `${PLATFORM_INGEST_CA.dir}/${PLATFORM_INGEST_CA.key}`;
const caVolume = { name: "ingest-ca", configMap: { name: PLATFORM_INGEST_CA.configMap } };
const caMount = { name: "ingest-ca", mountPath: PLATFORM_INGEST_CA.dir, readOnly: true };

export function metricsStoreValues(input: { retentionDays: number; storageSize: string }) {
  return {
    fullnameOverride: METRICS_STORE_NAME,
    server: {
      retentionPeriod: metricsRetention(input.retentionDays),
      persistentVolume: { enabled: true, size: input.storageSize },
      // Pushes arrive through the gateway only; the store scrapes nothing itself.
      scrape: { enabled: false },
      podSecurityContext: {
        runAsNonRoot: true,
        runAsUser: 65534,
        fsGroup: 65534,
        seccompProfile: { type: "RuntimeDefault" },
      },
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ["ALL"] },
      },
    },
  };
}

/** The platform gateway: metrics to the store, platform logs to Loki's platform tenant, nothing else. */
export function platformGatewayLocations(metricsUrl: string, lokiUrl: string): GatewayLocation[] {
  return [
    { path: METRICS_WRITE_PATH, upstream: metricsUrl, realm: "metrics ingest" },
    { path: LOKI_PUSH_PATH, upstream: lokiUrl, realm: "platform logs ingest", tenant: PLATFORM_LOG_TENANT },
  ];
}

export function platformGatewayConfig(metricsUrl: string, lokiUrl: string): string {
  return pushGatewayConfig(platformGatewayLocations(metricsUrl, lokiUrl));
}

const kubernetesSd = (role: string) => [{ role }];
const serviceAccountAuth = {
  scheme: "https",
  tls_config: { ca_file: "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt" },
  bearer_token_file: "/var/run/secrets/kubernetes.io/serviceaccount/token",
};

/**
 * Scrape jobs of one cluster. The ops cluster also scrapes Argo CD's sync
 * state, which lives only there.
 */
export function scrapeConfigs(cluster: MonitoredCluster) {
  const jobs: Record<string, unknown>[] = [
    {
      job_name: SCRAPE_JOBS.apiserver,
      kubernetes_sd_configs: kubernetesSd("endpoints"),
      ...serviceAccountAuth,
      relabel_configs: [
        {
          source_labels: [
            "__meta_kubernetes_namespace",
            "__meta_kubernetes_service_name",
            "__meta_kubernetes_endpoint_port_name",
          ],
          regex: "default;kubernetes;https",
          action: "keep",
        },
      ],
    },
    {
      job_name: SCRAPE_JOBS.kubelet,
      kubernetes_sd_configs: kubernetesSd("node"),
      ...serviceAccountAuth,
      tls_config: { ...serviceAccountAuth.tls_config, insecure_skip_verify: true },
    },
    {
      // etcd's plain metrics listener on the control-plane nodes (listen-metrics-urls, port 2381).
      job_name: SCRAPE_JOBS.etcd,
      kubernetes_sd_configs: kubernetesSd("node"),
      relabel_configs: [
        {
          source_labels: ["__meta_kubernetes_node_labelpresent_node_role_kubernetes_io_control_plane"],
          regex: "true",
          action: "keep",
        },
        {
          source_labels: ["__address__"],
          regex: "([^:]+)(?::\\d+)?",
          replacement: `$1:${ETCD_METRICS_PORT}`,
          target_label: "__address__",
        },
      ],
    },
  ];
  if (cluster.role === "ops") {
    jobs.push({
      job_name: SCRAPE_JOBS.argocd,
      kubernetes_sd_configs: [{ role: "endpoints", namespaces: { names: ["argocd"] } }],
      relabel_configs: [
        {
          source_labels: ["__meta_kubernetes_service_name"],
          regex: "argocd-application-controller-metrics",
          action: "keep",
        },
      ],
    });
  }
  return jobs;
}

/** The metric names a cluster's scrape jobs yield (for the rules' coverage test). */
export function scrapedMetrics(cluster: MonitoredCluster): string[] {
  return [...new Set(scrapeConfigs(cluster).flatMap((job) => JOB_METRICS[String(job.job_name)] ?? []))].sort();
}

export interface AgentValuesInput {
  cluster: MonitoredCluster & { environment: string };
  /** Base URL of the platform ingest (gateway Service in the ops cluster, the ops VIP elsewhere). */
  ingestUrl: string;
  pushUser: string;
}

export function agentValues(input: AgentValuesInput) {
  return {
    remoteWrite: [{ url: `${input.ingestUrl}${METRICS_WRITE_PATH}` }],
    extraArgs: {
      "remoteWrite.basicAuth.username": input.pushUser,
      // From the Secret, mounted as a file: never a flag value or an environment variable.
      "remoteWrite.basicAuth.passwordFile": `${PUSH_SECRET_DIR}/${PLATFORM_PUSH_SECRET_KEY}`,
      // The gateway's certificate is checked against the ingest CA (and its name), so the credential goes only to the gateway.
      "remoteWrite.tlsCAFile": caFile,
    },
    extraVolumes: [{ name: "push-credentials", secret: { secretName: PLATFORM_PUSH_SECRET } }, caVolume],
    extraVolumeMounts: [{ name: "push-credentials", mountPath: PUSH_SECRET_DIR, readOnly: true }, caMount],
    config: {
      global: {
        scrape_interval: "30s",
        // Every series says where it came from, so one store serves the whole environment.
        external_labels: {
          environment: input.cluster.environment,
          site: input.cluster.site,
          cluster: input.cluster.name,
          role: input.cluster.role,
        },
      },
      scrape_configs: scrapeConfigs(input.cluster),
    },
    podSecurityContext: { runAsNonRoot: true, runAsUser: 65534, seccompProfile: { type: "RuntimeDefault" } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
  };
}

export interface PlatformLogValuesInput {
  cluster: MonitoredCluster & { environment: string };
  ingestUrl: string;
  pushUser: string;
}

/** Only the platform namespaces' pod log directories, as file globs. */
export function platformLogIncludes(): string[] {
  return PLATFORM_NAMESPACES.map((ns) => `${POD_LOG_DIR}/${ns}_*/*/*.log`);
}

/**
 * Vector reading the platform namespaces' container logs and pushing them to
 * the platform tenant. It reads nothing the audit collector reads (the audit
 * log lives under /var/log/audit, not /var/log/pods) and cannot write to the
 * audit tenant: the gateway sets the tenant, not the collector.
 */
export function platformLogValues(input: PlatformLogValuesInput) {
  const { cluster } = input;
  return {
    role: "Agent",
    rbac: { create: false },
    serviceAccount: { automountToken: false },
    service: { enabled: false },
    tolerations: [{ operator: "Exists" }],
    env: [
      {
        name: "PLATFORM_PUSH_PASSWORD",
        valueFrom: { secretKeyRef: { name: PLATFORM_PUSH_SECRET, key: PLATFORM_PUSH_SECRET_KEY } },
      },
    ],
    defaultVolumes: [],
    defaultVolumeMounts: [],
    extraVolumes: [{ name: "pod-logs", hostPath: { path: POD_LOG_DIR, type: "Directory" } }, caVolume],
    extraVolumeMounts: [{ name: "pod-logs", mountPath: POD_LOG_DIR, readOnly: true }, caMount],
    persistence: { hostPath: { enabled: false } },
    // containerd writes the logs as root, mode 0640: the owner reads them, no capability needed.
    podSecurityContext: { runAsUser: 0, runAsGroup: 0, seccompProfile: { type: "RuntimeDefault" } },
    securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ["ALL"] } },
    resources: COLLECTOR_RESOURCES,
    customConfig: {
      data_dir: "/vector-data-dir",
      api: { enabled: false },
      sources: { pod_logs: { type: "file", include: platformLogIncludes(), read_from: "end" } },
      transforms: {
        platform_logs: {
          type: "remap",
          inputs: ["pod_logs"],
          source: [
            // /var/log/pods/<namespace>_<pod>_<uid>/<container>/<n>.log
            "parts = parse_regex(string!(.file), r'^/var/log/pods/(?P<namespace>[^_]+)_(?P<pod>[^_]+)_[^/]+/(?P<container>[^/]+)/') ?? {}",
            ".namespace = parts.namespace",
            ".pod = parts.pod",
            ".container = parts.container",
          ].join("\n"),
        },
      },
      sinks: {
        loki: {
          type: "loki",
          inputs: ["platform_logs"],
          endpoint: input.ingestUrl,
          encoding: { codec: "json" },
          labels: {
            job: "platform-logs",
            environment: cluster.environment,
            site: cluster.site,
            cluster: cluster.name,
            namespace: "{{ namespace }}",
          },
          auth: { strategy: "basic", user: input.pushUser, password: "${PLATFORM_PUSH_PASSWORD}" },
          tls: { ca_file: caFile, verify_certificate: true, verify_hostname: true },
          // Platform logs may drop under back-pressure; the audit stream never does (its own collector blocks).
          buffer: { type: "memory", max_events: 10000, when_full: "drop_newest" },
        },
      },
    },
  };
}
