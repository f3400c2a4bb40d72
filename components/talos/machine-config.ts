/**
 * A typed model of the Talos v1alpha1 machine configuration we generate, and
 * its renderer. Pure: values in, YAML out, so every guarantee the configs
 * carry (audit, OIDC, encryption at rest, endpoint, CNI) is unit-tested.
 *
 * Field names follow the Talos v1alpha1 reference of the 1.11 line. Talos
 * 1.14 moved the API server settings into separate documents
 * (KubeAPIServerConfig, KubeAuthenticationConfig) and 1.15 rejects the
 * authentication flags used here, so other lines are refused rather than
 * rendered wrongly.
 */
import { stringify } from "yaml";
import { talosVersionProblem } from "../../plan/versions";
import { ETCD_METRICS_PORT } from "../../plan/security-rules";
import { b64 } from "../../plan/base64";
import {
  AUTHENTICATION_CONFIG,
  auditPolicy,
  authenticationConfiguration,
  type AuditPolicy,
  type OidcSettings,
} from "./api-server-policy";

// The API server's audit policy and OIDC authentication: components/talos/api-server-policy.ts.
export {
  AUTHENTICATION_CONFIG,
  auditPolicy,
  authenticationConfiguration,
  type AuditPolicy,
  type AuditRule,
  type OidcSettings,
} from "./api-server-policy";

/** A certificate and, where the role may hold it, its key; both PEM. */
export interface PemPair {
  certPem: string;
  keyPem?: string;
}

/** Everything secret the configs carry, as plain values (render inside an apply). */
export interface MachineSecretValues {
  /** Talos API (apid/trustd) CA: Ed25519. */
  machineCa: PemPair;
  /** Kubernetes cluster CA: ECDSA P-256. */
  kubernetesCa: PemPair;
  etcdCa: PemPair;
  /** Front-proxy (aggregation layer) CA. */
  aggregatorCa: PemPair;
  /** Signs service-account tokens. */
  serviceAccountKeyPem: string;
  /** Kubernetes bootstrap token, `[a-z0-9]{6}.[a-z0-9]{16}`. */
  bootstrapToken: string;
  /** trustd join token, same shape. */
  trustdToken: string;
  /** 32 random bytes, base64. */
  secretboxKey: string;
}

export interface ClusterConfigInput {
  clusterName: string;
  /** `https://<VIP>:6443`. */
  endpoint: string;
  /** Extra SANs of the API server certificate (the VIP, a floating IP). */
  apiServerCertSans: readonly string[];
  /** The site subnet: kubelet and etcd pick their address from it. */
  nodeSubnet: string;
  talosVersion: string;
  kubernetesVersion: string;
  oidc: OidcSettings;
  /** Manifests Talos applies at bootstrap (e.g. the admin group binding). */
  inlineManifests: readonly { name: string; contents: string }[];
}

// ---- The model: only the fields we set, typed after the v1alpha1 reference.

interface Base64Pair {
  crt: string;
  key: string;
}
interface MachineFile {
  path: string;
  content: string;
  permissions: number;
  op: "create";
}

export interface MachineSection {
  type: "controlplane" | "worker";
  token: string;
  ca: Base64Pair;
  certSANs: string[];
  kubelet: { image: string; nodeIP: { validSubnets: string[] } };
  install: { disk: string; image: string; wipe: boolean };
  features: { rbac: true; kubePrism: { enabled: true; port: number } };
  files?: MachineFile[];
}

export interface ClusterSection {
  clusterName: string;
  controlPlane: { endpoint: string };
  network: { cni: { name: "none" } };
  proxy: { disabled: true };
  discovery: { enabled: boolean };
  token: string;
  ca: Base64Pair;
  secretboxEncryptionSecret?: string;
  aggregatorCA?: Base64Pair;
  serviceAccount?: { key: string };
  etcd?: { ca: Base64Pair; advertisedSubnets: string[]; extraArgs?: Record<string, string> };
  apiServer?: {
    image: string;
    certSANs: string[];
    extraArgs: Record<string, string>;
    extraVolumes: { hostPath: string; mountPath: string; readonly: boolean }[];
    auditPolicy: AuditPolicy;
  };
  controllerManager?: { image: string };
  scheduler?: { image: string };
  inlineManifests?: { name: string; contents: string }[];
}

export interface MachineConfig {
  version: "v1alpha1";
  debug: false;
  machine: MachineSection;
  cluster: ClusterSection;
}

/**
 * Refuses Talos lines whose config layout this renderer does not produce.
 * The config schema refuses them first, from the same table (plan/versions.ts).
 */
export function assertSupportedTalosVersion(version: string): void {
  const problem = talosVersionProblem(version);
  if (problem) throw new Error(`clusters.talosVersion: ${problem}`);
}

const v = (version: string) => (version.startsWith("v") ? version : `v${version}`);

function machineSection(
  role: "controlplane" | "worker",
  input: ClusterConfigInput,
  secrets: MachineSecretValues,
): MachineSection {
  return {
    type: role,
    token: secrets.trustdToken,
    // Workers never hold the Talos CA key: they get certificates through trustd.
    ca: {
      crt: b64(secrets.machineCa.certPem),
      key: role === "controlplane" ? b64(secrets.machineCa.keyPem ?? "") : "",
    },
    certSANs: [],
    kubelet: {
      image: `ghcr.io/siderolabs/kubelet:${v(input.kubernetesVersion)}`,
      nodeIP: { validSubnets: [input.nodeSubnet] },
    },
    // Ignored by the pre-installed OpenStack image; used by `talosctl upgrade`.
    install: { disk: "/dev/vda", image: `ghcr.io/siderolabs/installer:${v(input.talosVersion)}`, wipe: false },
    features: { rbac: true, kubePrism: { enabled: true, port: 7445 } },
  };
}

function clusterBase(
  input: ClusterConfigInput,
  secrets: MachineSecretValues,
  role: "controlplane" | "worker",
): ClusterSection {
  return {
    clusterName: input.clusterName,
    controlPlane: { endpoint: input.endpoint },
    // Cilium is installed right after bootstrap and replaces kube-proxy.
    network: { cni: { name: "none" } },
    proxy: { disabled: true },
    // The public discovery service would learn our membership; nothing here uses KubeSpan.
    discovery: { enabled: false },
    token: secrets.bootstrapToken,
    ca: {
      crt: b64(secrets.kubernetesCa.certPem),
      key: role === "controlplane" ? b64(secrets.kubernetesCa.keyPem ?? "") : "",
    },
  };
}

function requireKey(pair: PemPair, what: string): string {
  if (!pair.keyPem) throw new Error(`the control-plane config needs the ${what} key`);
  return b64(pair.keyPem);
}

export function controlPlaneConfig(input: ClusterConfigInput, secrets: MachineSecretValues): MachineConfig {
  assertSupportedTalosVersion(input.talosVersion);
  const authFile = `${AUTHENTICATION_CONFIG.hostDir}/${AUTHENTICATION_CONFIG.file}`;
  const machine = machineSection("controlplane", input, secrets);
  machine.ca.key = requireKey(secrets.machineCa, "Talos machine CA");
  machine.files = [
    {
      path: authFile,
      content: stringify(authenticationConfiguration(input.oidc, input.kubernetesVersion)),
      // The API server runs as nobody; the file holds no secret.
      permissions: 0o444,
      op: "create",
    },
  ];
  const k8s = v(input.kubernetesVersion);
  return {
    version: "v1alpha1",
    debug: false,
    machine,
    cluster: {
      ...clusterBase(input, secrets, "controlplane"),
      ca: { crt: b64(secrets.kubernetesCa.certPem), key: requireKey(secrets.kubernetesCa, "Kubernetes CA") },
      secretboxEncryptionSecret: secrets.secretboxKey,
      aggregatorCA: { crt: b64(secrets.aggregatorCa.certPem), key: requireKey(secrets.aggregatorCa, "aggregator CA") },
      serviceAccount: { key: b64(secrets.serviceAccountKeyPem) },
      etcd: {
        ca: { crt: b64(secrets.etcdCa.certPem), key: requireKey(secrets.etcdCa, "etcd CA") },
        advertisedSubnets: [input.nodeSubnet],
        // Metrics only, plain HTTP, for the central view's agent; the security groups admit the cluster's own workers only.
        extraArgs: { "listen-metrics-urls": `http://0.0.0.0:${ETCD_METRICS_PORT}` },
      },
      apiServer: {
        image: `registry.k8s.io/kube-apiserver:${k8s}`,
        certSANs: [...input.apiServerCertSans],
        extraArgs: { "authentication-config": `${AUTHENTICATION_CONFIG.podDir}/${AUTHENTICATION_CONFIG.file}` },
        extraVolumes: [
          { hostPath: AUTHENTICATION_CONFIG.hostDir, mountPath: AUTHENTICATION_CONFIG.podDir, readonly: true },
        ],
        auditPolicy: auditPolicy(),
      },
      controllerManager: { image: `registry.k8s.io/kube-controller-manager:${k8s}` },
      scheduler: { image: `registry.k8s.io/kube-scheduler:${k8s}` },
      inlineManifests: input.inlineManifests.map((m) => ({ ...m })),
    },
  };
}

/** Workers carry only what joining needs: tokens and the CA certificates. */
export function workerConfig(input: ClusterConfigInput, secrets: MachineSecretValues): MachineConfig {
  assertSupportedTalosVersion(input.talosVersion);
  return {
    version: "v1alpha1",
    debug: false,
    machine: machineSection("worker", input, secrets),
    cluster: clusterBase(input, secrets, "worker"),
  };
}

/** Serialises a config document; Talos reads it as the instance's user data. */
export function renderMachineConfig(config: MachineConfig): string {
  return stringify(config, { lineWidth: 0 });
}
