/**
 * Requests and limits of every workload the program installs, per Helm chart
 * and values path. Pure data: the components merge it into their values, the
 * policy `releases-set-resources` fails a release whose chart has no entry
 * here or whose values lack one, and the tests add up what lands on a node.
 *
 * Where things run (stack files): Cilium's agent and the audit collector on
 * every control-plane node (flavor `controlPlane`, c2.large in every stack)
 * and Cilium's agent on every worker (c4.xlarge); Argo CD, Loki, Grafana and
 * Cilium's operator on the ops cluster's workers; the platform-log collector
 * on every node. The control-plane nodes
 * also carry etcd and the apiserver, which Talos runs as static pods outside
 * these numbers, so what the platform adds there is held to
 * CONTROL_PLANE_DAEMONSET_BUDGET.
 *
 * Limits: memory limits stop one component from taking a node's memory; CPU
 * limits are set too, generous against the request, because a node shared
 * with etcd must not be starved by a runaway agent either.
 */

export interface ResourceSpec {
  requests: { cpu: string; memory: string; "ephemeral-storage"?: string };
  limits: { cpu: string; memory: string; "ephemeral-storage"?: string };
}

const spec = (cpu: [string, string], memory: [string, string]): ResourceSpec => ({
  requests: { cpu: cpu[0], memory: memory[0] },
  limits: { cpu: cpu[1], memory: memory[1] },
});

/**
 * Vector tailing one file and sending to three sinks stays well under a tenth
 * of a core; memory covers in-flight batches. Its disk buffers (three sinks
 * at 512 MiB at most) and checkpoints live on its emptyDir data dir, hence the
 * ephemeral-storage limit.
 */
export const COLLECTOR_RESOURCES: ResourceSpec = {
  requests: { cpu: "50m", memory: "128Mi", "ephemeral-storage": "256Mi" },
  limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "2Gi" },
};

/**
 * The Loki ingest gateway (nginx checking each collector's push credential):
 * two replicas on the ops workers, proxying a trickle of audit batches.
 */
export const INGEST_GATEWAY_RESOURCES: ResourceSpec = spec(["50m", "500m"], ["32Mi", "128Mi"]);

/**
 * The central view's platform ingest gateway: the same nginx, with the
 * ephemeral storage its /tmp request-body buffers may take bounded, so a
 * flood of pushes cannot fill the node.
 */
export const PLATFORM_GATEWAY_RESOURCES: ResourceSpec = {
  requests: { cpu: "50m", memory: "32Mi", "ephemeral-storage": "64Mi" },
  limits: { cpu: "500m", memory: "128Mi", "ephemeral-storage": "1Gi" },
};

/** Values path (inside the chart's values) → resources, per chart name. */
export const CHART_RESOURCES: Readonly<
  Record<string, readonly { path: readonly string[]; resources: ResourceSpec }[]>
> = {
  cilium: [
    // The agent, on every node: datapath programs and the policy engine.
    { path: ["resources"], resources: spec(["100m", "1000m"], ["256Mi", "1Gi"]) },
    // The agent's init containers (mount cgroups/bpf, clean state, install CNI).
    { path: ["initResources"], resources: spec(["10m", "200m"], ["32Mi", "128Mi"]) },
    { path: ["operator", "resources"], resources: spec(["50m", "500m"], ["128Mi", "512Mi"]) },
    // The per-node Envoy DaemonSet (L7 policy, ingress), on by default since Cilium 1.16.
    { path: ["envoy", "resources"], resources: spec(["25m", "500m"], ["64Mi", "512Mi"]) },
  ],
  "argo-cd": [
    // Reconciles every Application; memory grows with the number of managed objects.
    { path: ["controller", "resources"], resources: spec(["250m", "2000m"], ["512Mi", "2Gi"]) },
    { path: ["server", "resources"], resources: spec(["50m", "500m"], ["128Mi", "512Mi"]) },
    // Renders manifests (helm/kustomize) from Git: bursts of CPU and memory.
    { path: ["repoServer", "resources"], resources: spec(["100m", "1000m"], ["256Mi", "1Gi"]) },
    { path: ["applicationSet", "resources"], resources: spec(["50m", "500m"], ["64Mi", "256Mi"]) },
    { path: ["notifications", "resources"], resources: spec(["25m", "200m"], ["64Mi", "128Mi"]) },
    { path: ["redis", "resources"], resources: spec(["50m", "500m"], ["64Mi", "256Mi"]) },
    // The pre-install Job that creates Redis' password Secret.
    { path: ["redisSecretInit", "resources"], resources: spec(["10m", "100m"], ["32Mi", "64Mi"]) },
  ],
  loki: [
    // 30 days of audit logs from one environment: modest ingest, queries by auditors.
    { path: ["singleBinary", "resources"], resources: spec(["250m", "1000m"], ["512Mi", "2Gi"]) },
    // The rules sidecar of the single binary.
    { path: ["sidecar", "resources"], resources: spec(["10m", "100m"], ["32Mi", "128Mi"]) },
  ],
  grafana: [
    { path: ["resources"], resources: spec(["50m", "500m"], ["128Mi", "512Mi"]) },
    { path: ["initChownData", "resources"], resources: spec(["10m", "100m"], ["16Mi", "64Mi"]) },
    { path: ["sidecar", "resources"], resources: spec(["10m", "100m"], ["32Mi", "128Mi"]) },
  ],
  vector: [{ path: ["resources"], resources: COLLECTOR_RESOURCES }],
  // The central view's metrics store: one environment's series for its bounded retention.
  "victoria-metrics-single": [{ path: ["server", "resources"], resources: spec(["200m", "1000m"], ["512Mi", "2Gi"]) }],
  // One agent per cluster scraping a few dozen targets every 30 s.
  "victoria-metrics-agent": [{ path: ["resources"], resources: spec(["50m", "500m"], ["128Mi", "512Mi"]) }],
};

/**
 * What the platform's own DaemonSets may request on one control-plane node
 * (Cilium agent and Envoy, the audit collector): a budget we set, leaving the
 * rest of a c2.large to etcd, the apiserver and Talos. Not a measurement.
 */
export const CONTROL_PLANE_DAEMONSET_BUDGET = { cpuMillis: 500, memoryMi: 768 } as const;

/** The charts whose workloads run as DaemonSets on control-plane nodes, with the paths that apply there. */
export const CONTROL_PLANE_DAEMONSETS: readonly { chart: string; path: readonly string[] }[] = [
  { chart: "cilium", path: ["resources"] },
  { chart: "cilium", path: ["envoy", "resources"] },
  { chart: "vector", path: ["resources"] },
  // The central view's platform-log collector: a second vector DaemonSet, on every node.
  { chart: "vector", path: ["resources"] },
];

export function cpuMillis(quantity: string): number {
  const m = /^(\d+(?:\.\d+)?)(m?)$/.exec(quantity);
  if (!m) throw new Error(`not a CPU quantity: ${quantity}`);
  return m[2] === "m" ? Number(m[1]) : Number(m[1]) * 1000;
}

export function memoryMi(quantity: string): number {
  const m = /^(\d+)(Mi|Gi)$/.exec(quantity);
  if (!m) throw new Error(`not a memory quantity in Mi or Gi: ${quantity}`);
  return m[2] === "Gi" ? Number(m[1]) * 1024 : Number(m[1]);
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** A copy of `values` with the chart's resources set at their paths; other keys untouched. */
export function withResources<T extends object>(chart: string, values: T): T {
  const entries = CHART_RESOURCES[chart];
  if (!entries)
    throw new Error(`no requests and limits are planned for chart "${chart}"; add it to plan/workload-resources.ts`);
  const copy = structuredClone(values) as Record<string, unknown>;
  for (const { path, resources } of entries) {
    let node = copy;
    for (const key of path.slice(0, -1)) {
      if (!isRecord(node[key])) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    node[path[path.length - 1]!] = structuredClone(resources);
  }
  return copy as T;
}

/** Problems of one chart's values: each planned path must hold CPU and memory requests and limits. */
export function resourceProblems(chart: string, values: unknown): string[] {
  const entries = CHART_RESOURCES[chart];
  if (!entries) return [`chart "${chart}" has no planned requests and limits (plan/workload-resources.ts)`];
  const problems: string[] = [];
  for (const { path } of entries) {
    let node: unknown = values;
    for (const key of path) node = isRecord(node) ? node[key] : undefined;
    const r = node as Partial<ResourceSpec> | undefined;
    const missing = [
      !r?.requests?.cpu && "requests.cpu",
      !r?.requests?.memory && "requests.memory",
      !r?.limits?.cpu && "limits.cpu",
      !r?.limits?.memory && "limits.memory",
    ].filter(Boolean);
    if (missing.length > 0) problems.push(`${chart}: ${path.join(".")} lacks ${missing.join(", ")}`);
  }
  return problems;
}

/**
 * The etcd backup CronJob (components/etcd-backup), on a control-plane node
 * for a few minutes every run: talosctl streams the snapshot to an emptyDir,
 * then node encrypts and uploads it in one pass. Memory covers node's
 * streams, not the snapshot, which stays on disk; the ephemeral-storage
 * limit is the snapshot and its encrypted copy (etcd's 2 GiB default quota,
 * twice, with headroom).
 */
export const ETCD_BACKUP_RESOURCES = {
  snapshot: {
    requests: { cpu: "50m", memory: "64Mi", "ephemeral-storage": "512Mi" },
    limits: { cpu: "500m", memory: "256Mi", "ephemeral-storage": "5Gi" },
  },
  upload: {
    requests: { cpu: "50m", memory: "96Mi", "ephemeral-storage": "64Mi" },
    limits: { cpu: "1000m", memory: "256Mi", "ephemeral-storage": "256Mi" },
  },
} as const satisfies Record<string, ResourceSpec>;
