import type { ClusterConfigInput, MachineSecretValues } from "../../components/talos/machine-config";

const pem = (kind: string, body: string) => `-----BEGIN ${kind}-----\n${body}\n-----END ${kind}-----\n`;

/** Recognisable stand-ins for the machine secrets, so tests can find each one in a rendered config. */
export const fakeMachineSecrets: MachineSecretValues = {
  machineCa: { certPem: pem("CERTIFICATE", "talos-ca"), keyPem: pem("PRIVATE KEY", "talos-ca-key") },
  kubernetesCa: { certPem: pem("CERTIFICATE", "k8s-ca"), keyPem: pem("EC PRIVATE KEY", "k8s-ca-key") },
  etcdCa: { certPem: pem("CERTIFICATE", "etcd-ca"), keyPem: pem("EC PRIVATE KEY", "etcd-ca-key") },
  aggregatorCa: { certPem: pem("CERTIFICATE", "agg-ca"), keyPem: pem("EC PRIVATE KEY", "agg-ca-key") },
  serviceAccountKeyPem: pem("EC PRIVATE KEY", "sa-key"),
  bootstrapToken: "abcdef.0123456789abcdef",
  trustdToken: "ghijkl.0123456789ghijkl",
  secretboxKey: Buffer.alloc(32, 7).toString("base64"),
};

/** A production management cluster in osl2, as the committed stack configures it. */
export const clusterConfigInput = (overrides: Partial<ClusterConfigInput> = {}): ClusterConfigInput => ({
  clusterName: "production-osl2-mgmt",
  endpoint: "https://10.32.0.8:6443",
  apiServerCertSans: ["10.32.0.8"],
  nodeSubnet: "10.32.0.0/20",
  talosVersion: "1.11.5",
  kubernetesVersion: "1.34.2",
  oidc: {
    issuer: "https://id.ske.example.net",
    clientId: "312345678901234567@ske",
    groupsClaim: "groups",
    groupsPrefix: "zitadel:",
    usernamePrefix: "zitadel:",
    requireMfa: true,
  },
  inlineManifests: [],
  ...overrides,
});
