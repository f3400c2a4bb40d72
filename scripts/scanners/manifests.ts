/**
 * The Kubernetes objects a synthesized stack creates, as the manifests the
 * scanners read: every kubernetes:* resource the program registers except
 * Helm releases, whose charts cannot be rendered offline (no chart
 * repository is reachable from CI). For the audit collector, whose pod shape
 * is this program's own choice, the DaemonSet is rendered from our values
 * following the vector chart's Agent template (charts/vector/templates/
 * daemonset.yaml and _pod.tpl of the pinned chart): a faithful stand-in for
 * the pod spec, labelled as such, not Helm's output. Pure.
 */
import { stringify } from "yaml";

export interface RecordedLike {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
  provider?: string;
}

export interface Manifest {
  /** `Kind/namespace/name`, the key findings and waivers use. */
  object: string;
  /** Cluster it goes to (from its provider), for the file name only. */
  cluster: string;
  /** How the text was made: `program` (the object as registered) or `values` (rendered from chart values). */
  source: "program" | "values";
  yaml: string;
}

/** appVersion of each pinned vector chart (its Chart.yaml), which the chart uses as image tag. */
const VECTOR_APP_VERSION: Record<string, string> = { "0.40.0": "0.44.0-distroless-libc" };

const clusterOf = (r: RecordedLike) => r.provider?.split("::")[3]?.replace(/-k8s$/, "") ?? "unknown";

/** ObjectMeta's name and namespace, which the apiserver only accepts as strings. */
type ObjectNames = { name?: string; namespace?: string };

export function objectKey(kind: string, metadata: ObjectNames | undefined): string {
  return `${kind}/${metadata?.namespace || "_"}/${metadata?.name ?? "?"}`;
}

/** The values the vector chart's Agent template reads; the ones copied verbatim into the pod stay opaque. */
interface VectorValues {
  customConfig?: { data_dir?: string };
  serviceAccount?: { automountToken?: boolean };
  podSecurityContext?: unknown;
  nodeSelector?: unknown;
  tolerations?: unknown;
  env?: unknown;
  resources?: unknown;
  securityContext?: unknown;
  defaultVolumeMounts?: unknown[];
  extraVolumeMounts?: unknown[];
  persistence?: { hostPath?: { enabled?: boolean; path?: string } };
  defaultVolumes?: unknown[];
  extraVolumes?: unknown[];
}

/** The collector DaemonSet as the chart's Agent role renders it from `values`. */
export function renderCollectorDaemonSet(release: RecordedLike): Record<string, unknown> {
  const values = release.inputs["values"] as VectorValues;
  const name = String(release.inputs["name"]);
  const namespace = String(release.inputs["namespace"]);
  const chartVersion = String(release.inputs["version"]);
  const labels = {
    "app.kubernetes.io/name": "vector",
    "app.kubernetes.io/instance": name,
    "app.kubernetes.io/component": "Agent",
  };
  const dataDir = values["customConfig"]?.["data_dir"] ?? "/vector-data-dir";
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: {
      name,
      namespace,
      labels: { ...labels, "helm.sh/chart": `vector-${chartVersion}` },
      annotations: {
        "ske-platform/rendered-from": `values of Helm release ${release.name}, following the vector ${chartVersion} chart's Agent template`,
      },
    },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName: name,
          automountServiceAccountToken: values["serviceAccount"]?.["automountToken"],
          securityContext: values["podSecurityContext"],
          nodeSelector: values["nodeSelector"],
          tolerations: values["tolerations"],
          dnsPolicy: "ClusterFirst",
          containers: [
            {
              name: "vector",
              // The chart's default: its appVersion as tag, no digest.
              image: `timberio/vector:${VECTOR_APP_VERSION[chartVersion] ?? "unknown-chart-version"}`,
              imagePullPolicy: "IfNotPresent",
              args: ["--config-dir", "/etc/vector/"],
              env: values["env"],
              resources: values["resources"],
              securityContext: values["securityContext"],
              volumeMounts: [
                { name: "data", mountPath: dataDir },
                { name: "config", mountPath: "/etc/vector/", readOnly: true },
                ...(values["defaultVolumeMounts"] ?? []),
                ...(values["extraVolumeMounts"] ?? []),
              ],
            },
          ],
          terminationGracePeriodSeconds: 60,
          volumes: [
            { name: "config", projected: { sources: [{ configMap: { name } }] } },
            values["persistence"]?.["hostPath"]?.["enabled"] === false
              ? { name: "data", emptyDir: {} }
              : {
                  name: "data",
                  hostPath: { path: values["persistence"]?.["hostPath"]?.["path"] ?? "/var/lib/vector" },
                },
            ...(values["defaultVolumes"] ?? []),
            ...(values["extraVolumes"] ?? []),
          ],
        },
      },
    },
  };
}

/** Drops undefined fields so the YAML is what the apiserver would store. */
const clean = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

export function manifestsOf(resources: readonly RecordedLike[]): Manifest[] {
  const out: Manifest[] = [];
  for (const r of resources) {
    if (!r.type.startsWith("kubernetes:") || r.type.startsWith("pulumi:providers:")) continue;
    if (r.type === "kubernetes:helm.sh/v3:Release") {
      if (r.inputs["chart"] !== "vector") continue;
      const ds = renderCollectorDaemonSet(r);
      out.push({
        object: objectKey("DaemonSet", ds["metadata"] as ObjectNames),
        cluster: clusterOf(r),
        source: "values",
        yaml: stringify(clean(ds)),
      });
      continue;
    }
    const object = clean(r.inputs) as { apiVersion?: unknown; kind?: unknown; metadata?: ObjectNames };
    if (typeof object["apiVersion"] !== "string" || typeof object["kind"] !== "string") continue;
    out.push({
      object: objectKey(object["kind"], object["metadata"]),
      cluster: clusterOf(r),
      source: "program",
      yaml: stringify(object),
    });
  }
  return out;
}

export function manifestFileName(m: Manifest): string {
  return `${m.cluster}--${m.object.replace(/[/]/g, "--")}.yaml`;
}
