/**
 * Vector, as a DaemonSet on control-plane nodes, tails the apiserver audit log
 * Talos writes and ships every event to Loki, to the object-lock archive and,
 * when configured, to a SIEM. Pure data, tested without a cluster.
 */

import { COLLECTOR_RESOURCES } from "../../plan/workload-resources";

/** Where Talos has kube-apiserver write its audit log on control-plane nodes. */
export const TALOS_AUDIT_LOG_DIR = "/var/log/audit/kube";

/**
 * Talos creates TALOS_AUDIT_LOG_DIR with mode 0700, owned by 65534:65534, the
 * user kube-apiserver runs as; the apiserver's rotating writer creates its
 * files 0600. So the collector reads them as that same non-root user with no
 * capability at all. Root (or CAP_DAC_READ_SEARCH) is not needed.
 */
export const COLLECTOR_UID = 65534;
const AUDIT_LOG_VOLUME = "apiserver-audit-log";

/**
 * Pod Security of the collector's namespace. Baseline forbids every hostPath,
 * so reading the audit log needs `privileged`, the only level that allows one.
 * What Pod Security cannot say (this one directory, read-only, non-root, no
 * capability) the cluster's admission policy ske-audit-collector-pod-shape
 * (components/cluster-access/collector-guard.ts) enforces for every pod there.
 */
export const COLLECTOR_POD_SECURITY = { "pod-security.kubernetes.io/enforce": "privileged" } as const;

export const ARCHIVE_SECRET_KEYS = { accessKeyId: "access-key-id", secretAccessKey: "secret-access-key" } as const;
/** Key of the SIEM token in the collector's Secret; Vector reads it as ${SIEM_TOKEN}. */
export const SIEM_TOKEN_SECRET_KEY = "siem-token";

export interface SiemSink {
  endpoint: string;
  format: "json" | "cef";
  /** With auth, every request carries `<header>: [<scheme> ]<token>`, the token from the Secret. */
  auth?: { header: string; scheme?: string | undefined };
}
/** The Secret holding this collector's password at the Loki ingest gateway. */
export const LOKI_PUSH_SECRET = "loki-push-credentials";
export const LOKI_PUSH_SECRET_KEY = "password";

export interface CollectedCluster {
  name: string;
  environment: string;
  site: string;
  role: string;
}

export interface CollectorConfigInput {
  cluster: CollectedCluster;
  /** Loki base URL, e.g. `http://loki.audit.svc.cluster.local:3100`. */
  lokiUrl: string;
  archive: { endpoint: string; bucket: string; region: string };
  siem?: SiemSink;
  /** User at the ingest gateway; the password comes from LOKI_PUSH_SECRET. */
  lokiPushUser?: string;
  /** ConfigMap with the ingest CA, mounted at `dir`; the push is verified against it. */
  lokiCa?: { configMap: string; dir: string; key: string };
}

/** Disk buffers that block when full: an audit event is delayed, never dropped. */
const durableBuffer = { type: "disk", max_size: 536870912, when_full: "block" } as const;

const vrlString = (value: string) => JSON.stringify(value);

function enrichProgram(cluster: CollectedCluster): string {
  return [
    "parsed, err = parse_json(.message)",
    "if err == null && is_object(parsed) { . = object!(parsed) }",
    '.timestamp = parse_timestamp(string(.requestReceivedTimestamp) ?? "", format: "%+") ?? now()',
    `.ske = { "environment": ${vrlString(cluster.environment)}, "site": ${vrlString(cluster.site)}, "cluster": ${vrlString(cluster.name)}, "role": ${vrlString(cluster.role)} }`,
  ].join("\n");
}

/** ArcSight CEF for SIEMs that want it; header fields escaped as CEF requires. */
const CEF_PROGRAM = [
  'verb = string(.verb) ?? "unknown"',
  'resource = string(.objectRef.resource) ?? "none"',
  'user = string(.user.username) ?? "unknown"',
  'code = to_string(.responseStatus.code) ?? "0"',
  'cluster = string(.ske.cluster) ?? "unknown"',
  'header = join!(["CEF:0", "SKE", "kube-apiserver", "audit.k8s.io/v1", replace(verb, "|", "\\\\|"), replace(verb + " " + resource, "|", "\\\\|"), "3"], "|")',
  '. = { "message": header + "|suser=" + replace(user, "=", "\\\\=") + " outcome=" + code + " cs1Label=cluster cs1=" + cluster }',
].join("\n");

export function collectorConfig(input: CollectorConfigInput) {
  const { cluster } = input;
  const sinks: Record<string, unknown> = {
    loki: {
      type: "loki",
      inputs: ["audit_events"],
      endpoint: input.lokiUrl,
      encoding: { codec: "json" },
      labels: {
        job: "kube-apiserver-audit",
        environment: cluster.environment,
        site: cluster.site,
        cluster: cluster.name,
        role: cluster.role,
      },
      buffer: durableBuffer,
      ...(input.lokiPushUser
        ? { auth: { strategy: "basic", user: input.lokiPushUser, password: "${LOKI_PUSH_PASSWORD}" } }
        : {}),
      ...(input.lokiCa
        ? {
            tls: {
              ca_file: `${input.lokiCa.dir}/${input.lokiCa.key}`,
              verify_certificate: true,
              verify_hostname: true,
            },
          }
        : {}),
    },
    archive: {
      type: "aws_s3",
      inputs: ["audit_events"],
      endpoint: input.archive.endpoint,
      bucket: input.archive.bucket,
      region: input.archive.region,
      force_path_style: true,
      // One prefix per cluster and day; the bucket's default retention locks every object.
      key_prefix: `${cluster.name}/%Y/%m/%d/`,
      compression: "gzip",
      encoding: { codec: "json" },
      framing: { method: "newline_delimited" },
      auth: { access_key_id: "${ARCHIVE_ACCESS_KEY_ID}", secret_access_key: "${ARCHIVE_SECRET_ACCESS_KEY}" },
      buffer: durableBuffer,
    },
  };
  const transforms: Record<string, unknown> = {
    audit_events: { type: "remap", inputs: ["apiserver_audit"], drop_on_error: false, source: enrichProgram(cluster) },
  };
  if (input.siem) {
    const cef = input.siem.format === "cef";
    if (cef) transforms["siem_cef"] = { type: "remap", inputs: ["audit_events"], source: CEF_PROGRAM };
    sinks["siem"] = {
      type: "http",
      inputs: [cef ? "siem_cef" : "audit_events"],
      uri: input.siem.endpoint,
      method: "post",
      encoding: { codec: cef ? "text" : "json" },
      framing: { method: "newline_delimited" },
      compression: "gzip",
      buffer: durableBuffer,
      ...(input.siem.auth
        ? {
            request: {
              headers: {
                [input.siem.auth.header]: `${input.siem.auth.scheme ? `${input.siem.auth.scheme} ` : ""}\${SIEM_TOKEN}`,
              },
            },
          }
        : {}),
    };
  }
  return {
    data_dir: "/vector-data-dir",
    api: { enabled: true, address: "127.0.0.1:8686", playground: false },
    sources: {
      apiserver_audit: {
        type: "file",
        include: [`${TALOS_AUDIT_LOG_DIR}/*.log`],
        // Rotated files are read to the end before they are left; checkpoints live in data_dir.
        read_from: "beginning",
      },
    },
    transforms,
    sinks,
  };
}

export function collectorValues(input: CollectorConfigInput & { credentialsSecret: string }) {
  const secretEnv = (name: string, key: string) => ({
    name,
    valueFrom: { secretKeyRef: { name: input.credentialsSecret, key } },
  });
  return {
    role: "Agent",
    // The file source needs no Kubernetes API access.
    rbac: { create: false },
    serviceAccount: { automountToken: false },
    service: { enabled: false },
    // The audit log exists only where an apiserver runs.
    nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
    tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
    env: [
      secretEnv("ARCHIVE_ACCESS_KEY_ID", ARCHIVE_SECRET_KEYS.accessKeyId),
      secretEnv("ARCHIVE_SECRET_ACCESS_KEY", ARCHIVE_SECRET_KEYS.secretAccessKey),
      ...(input.siem?.auth ? [secretEnv("SIEM_TOKEN", SIEM_TOKEN_SECRET_KEY)] : []),
      ...(input.lokiPushUser
        ? [
            {
              name: "LOKI_PUSH_PASSWORD",
              valueFrom: { secretKeyRef: { name: LOKI_PUSH_SECRET, key: LOKI_PUSH_SECRET_KEY } },
            },
          ]
        : []),
    ],
    // The chart's Agent defaults mount host /var/log, /var/lib (etcd's data on
    // Talos), /proc and /sys. The file source needs one directory, and the
    // Loki sink the ingest CA: nothing else.
    defaultVolumes: [],
    defaultVolumeMounts: [],
    extraVolumes: [
      { name: AUDIT_LOG_VOLUME, hostPath: { path: TALOS_AUDIT_LOG_DIR, type: "Directory" } },
      ...(input.lokiCa ? [{ name: "ingest-ca", configMap: { name: input.lokiCa.configMap } }] : []),
    ],
    extraVolumeMounts: [
      { name: AUDIT_LOG_VOLUME, mountPath: TALOS_AUDIT_LOG_DIR, readOnly: true },
      ...(input.lokiCa ? [{ name: "ingest-ca", mountPath: input.lokiCa.dir, readOnly: true }] : []),
    ],
    // data_dir (checkpoints, disk buffers) on an emptyDir, not the host: it
    // survives container restarts; a replaced pod re-reads the retained log
    // from the beginning, so events are duplicated, never lost.
    persistence: { hostPath: { enabled: false } },
    podSecurityContext: {
      runAsNonRoot: true,
      runAsUser: COLLECTOR_UID,
      runAsGroup: COLLECTOR_UID,
      seccompProfile: { type: "RuntimeDefault" },
    },
    securityContext: {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    },
    resources: COLLECTOR_RESOURCES,
    customConfig: collectorConfig(input),
  };
}

export type CollectorValues = ReturnType<typeof collectorValues>;

const METADATA_SERVICE = "169.254.169.254/32";

type Peer =
  | { ipBlock: { cidr: string; except: string[] } }
  | {
      namespaceSelector: { matchLabels: Record<string, string> };
      podSelector?: { matchLabels: Record<string, string> };
    };
interface EgressRule {
  to: Peer[];
  ports: { protocol: string; port: number }[];
}

function portOf(url: URL): number {
  if (url.port) return Number(url.port);
  return url.protocol === "https:" ? 443 : 80;
}

/**
 * The collector's network: nothing comes in (its API listens on 127.0.0.1),
 * and it goes out only to its sinks' ports and to cluster DNS. An in-cluster
 * Loki is named by its namespace, because CIDR rules never match pods; the
 * remote Loki (the ops VIP), the archive and the SIEM lie outside the
 * cluster, reached on their one port, with the metadata service cut out.
 */
export function collectorNetworkPolicySpec(input: {
  lokiUrl: string;
  archiveEndpoint?: string;
  siemEndpoint?: string;
}) {
  const anyExternal = { ipBlock: { cidr: "0.0.0.0/0", except: [METADATA_SERVICE] } };
  const tcp = (port: number) => ({ protocol: "TCP", port });
  const external = (url: URL) => ({ to: [anyExternal], ports: [tcp(portOf(url))] });
  const loki = new URL(input.lokiUrl);
  const inCluster = /^[a-z0-9-]+\.([a-z0-9-]+)\.svc\.cluster\.local$/.exec(loki.hostname);
  const egress: EgressRule[] = [
    {
      to: [
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
          podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
        },
      ],
      ports: [{ protocol: "UDP", port: 53 }, tcp(53)],
    },
    inCluster
      ? {
          to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": inCluster[1]! } } }],
          ports: [tcp(portOf(loki))],
        }
      : external(loki),
  ];
  // The central view's platform-log collector has no archive.
  if (input.archiveEndpoint) egress.push(external(new URL(input.archiveEndpoint)));
  if (input.siemEndpoint) egress.push(external(new URL(input.siemEndpoint)));
  return { podSelector: {}, policyTypes: ["Ingress", "Egress"], ingress: [], egress };
}
