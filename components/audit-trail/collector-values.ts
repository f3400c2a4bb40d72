/**
 * Vector, as a DaemonSet on control-plane nodes, tails the apiserver audit log
 * Talos writes and ships every event to Loki, to the object-lock archive and,
 * when configured, to a SIEM. Pure data, tested without a cluster.
 */

/** Where Talos has kube-apiserver write its audit log on control-plane nodes. */
export const TALOS_AUDIT_LOG_DIR = "/var/log/audit/kube";

export const ARCHIVE_SECRET_KEYS = { accessKeyId: "access-key-id", secretAccessKey: "secret-access-key" } as const;
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
  siem?: { endpoint: string; format: "json" | "cef" };
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
      ...(input.lokiPushUser ? { auth: { strategy: "basic", user: input.lokiPushUser, password: "${LOKI_PUSH_PASSWORD}" } } : {}),
      ...(input.lokiCa ? { tls: { ca_file: `${input.lokiCa.dir}/${input.lokiCa.key}`, verify_certificate: true, verify_hostname: true } } : {}),
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
    };
  }
  return {
    data_dir: "/vector-data-dir",
    api: { enabled: true, address: "127.0.0.1:8686", playground: false },
    sources: {
      apiserver_audit: {
        type: "file",
        include: [`${TALOS_AUDIT_LOG_DIR}/*.log`],
        // Rotated files are read to the end before they are left; checkpoints live in data_dir on the host.
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
      ...(input.lokiPushUser ? [{ name: "LOKI_PUSH_PASSWORD", valueFrom: { secretKeyRef: { name: LOKI_PUSH_SECRET, key: LOKI_PUSH_SECRET_KEY } } }] : []),
    ],
    ...(input.lokiCa
      ? {
          extraVolumes: [{ name: "ingest-ca", configMap: { name: input.lokiCa.configMap } }],
          extraVolumeMounts: [{ name: "ingest-ca", mountPath: input.lokiCa.dir, readOnly: true }],
        }
      : {}),
    // The Agent role mounts the host's /var/log read-only, which holds TALOS_AUDIT_LOG_DIR;
    // data_dir (checkpoints, disk buffers) is a hostPath so a restart neither re-sends nor loses events.
    persistence: { hostPath: { path: "/var/lib/vector" } },
    customConfig: collectorConfig(input),
  };
}

export type CollectorValues = ReturnType<typeof collectorValues>;
