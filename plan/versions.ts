/**
 * The versions this program can render, in one place: the config schema
 * refuses anything else before a resource exists, and the renderers
 * (components/talos/machine-config.ts, the chart values) assert the same
 * table as a last line of defence. A version outside it would otherwise
 * surface as a failed render deep inside `pulumi up`, after other resources
 * were already created.
 */

export interface MinorRange {
  min: number;
  max: number;
}

/**
 * Talos 1.<minor> lines the machine-config renderer produces v1alpha1
 * documents for, each with the Kubernetes minors that Talos line supports
 * (Sidero's support matrix: six Kubernetes minors per Talos line, e.g. Talos
 * 1.11 runs 1.29 to 1.34 and 1.12 runs 1.30 to 1.35). Talos 1.14 moved the
 * API server settings into KubeAPIServerConfig/KubeAuthenticationConfig
 * documents, which this renderer does not write.
 */
export const TALOS_LINES: Readonly<Record<number, MinorRange>> = {
  8: { min: 26, max: 31 },
  9: { min: 27, max: 32 },
  10: { min: 28, max: 33 },
  11: { min: 29, max: 34 },
  12: { min: 30, max: 35 },
  13: { min: 31, max: 36 },
};

export const SUPPORTED_TALOS_MINORS: readonly number[] = Object.keys(TALOS_LINES).map(Number);

/** Structured AuthenticationConfiguration (how OIDC and the MFA rule reach the API server) exists from 1.30. */
export const MIN_KUBERNETES_MINOR = 30;

/**
 * Helm charts whose values this program writes, with the major line the
 * values were written for (a chart's major bump is where its values change
 * incompatibly; a new major needs the values reviewed and this table
 * updated). `minMinor` where a key we set appeared within the line.
 */
export const CHART_LINES = {
  /** routingMode/tunnelProtocol and a boolean kubeProxyReplacement exist from 1.14. */
  cilium: { major: 1, minMinor: 14 },
  "argo-cd": { major: 9, minMinor: 0 },
  loki: { major: 6, minMinor: 0 },
  grafana: { major: 10, minMinor: 0 },
  vector: { major: 0, minMinor: 40 },
  /** retentionPeriod, server.persistentVolume and server.extraArgs as written in components/monitoring. */
  "victoria-metrics-single": { major: 0, minMinor: 27 },
  /** remoteWrite[].basicAuth and a plain scrape `config` as written in components/monitoring. */
  "victoria-metrics-agent": { major: 0, minMinor: 29 },
} as const;

export type ChartName = keyof typeof CHART_LINES;

interface Parsed {
  major: number;
  minor: number;
  patch: number;
  prerelease: string | undefined;
}

export function parseVersion(version: string): Parsed | undefined {
  const match = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?$/.exec(version);
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]), prerelease: match[4] };
}

const talosRange = () =>
  `1.${SUPPORTED_TALOS_MINORS[0]} to 1.${SUPPORTED_TALOS_MINORS[SUPPORTED_TALOS_MINORS.length - 1]}`;

/** Why the renderer cannot produce configs for this Talos version, or undefined. */
export function talosVersionProblem(version: string): string | undefined {
  const v = parseVersion(version);
  if (!v) return `"${version}" is not a version such as 1.11.5`;
  if (v.major !== 1 || TALOS_LINES[v.minor] === undefined) {
    return `Talos ${version} is not supported by the machine-config renderer (supported: ${talosRange()}; 1.14 moved API server authentication into KubeAuthenticationConfig)`;
  }
  return undefined;
}

/** The Kubernetes minors a Talos version can run and this program can configure. */
export function kubernetesRangeFor(talosVersion: string): MinorRange | undefined {
  const v = parseVersion(talosVersion);
  const line = v && v.major === 1 ? TALOS_LINES[v.minor] : undefined;
  if (!line) return undefined;
  return { min: Math.max(line.min, MIN_KUBERNETES_MINOR), max: line.max };
}

/** Why this Kubernetes version cannot run under this Talos version with this program's config, or undefined. */
export function kubernetesVersionProblem(kubernetesVersion: string, talosVersion: string): string | undefined {
  const v = parseVersion(kubernetesVersion);
  if (!v) return `"${kubernetesVersion}" is not a version such as 1.34.2`;
  if (v.prerelease !== undefined) return `${kubernetesVersion} is a pre-release; use a released 1.x.y`;
  if (v.major !== 1) return `Kubernetes ${kubernetesVersion} does not exist (Kubernetes versions are 1.x.y)`;
  if (v.minor < MIN_KUBERNETES_MINOR) {
    return `Kubernetes ${kubernetesVersion} predates structured authentication configuration (1.${MIN_KUBERNETES_MINOR}), which carries OIDC and the MFA rule`;
  }
  const range = kubernetesRangeFor(talosVersion);
  if (range && (v.minor < range.min || v.minor > range.max)) {
    return `Kubernetes ${kubernetesVersion} is not supported by Talos ${talosVersion} (supported with it: 1.${range.min} to 1.${range.max})`;
  }
  return undefined;
}

/** Why the values this program writes do not fit this chart version, or undefined. */
export function chartVersionProblem(chart: ChartName, version: string): string | undefined {
  const v = parseVersion(version);
  if (!v) return `"${version}" is not a version such as 1.2.3`;
  const line = CHART_LINES[chart];
  if (v.major !== line.major || v.minor < line.minMinor) {
    return `chart ${chart} ${version} is outside the line whose values this program writes (${line.major}.${line.minMinor}.0 up to, not including, ${line.major + 1}.0.0)`;
  }
  return undefined;
}
