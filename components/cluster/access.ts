import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";
import { CLIENT_CERTIFICATE_LIFETIME } from "../../plan/credential-lifetime";
import { renderKubeconfig, renderTalosconfig } from "../talos/client-config";
import { clientCertificate, type TalosMachineSecrets } from "../talos/secrets";
import type { ClusterScope } from "./args";
import { API_SERVER_PORT } from "./load-balancer-config";

/**
 * The group in our admin client certificate. Not `system:masters`, which
 * bypasses RBAC and cannot be revoked short of rotating the CA: this group
 * is bound to cluster-admin by a binding Talos applies at bootstrap, so
 * deleting that binding locks the certificate out. Break-glass access stays
 * with `talosctl kubeconfig`.
 */
export const ADMIN_GROUP = "ske:platform-admins";
const ADMIN_USER = "ske-platform";
const CLIENT_CERT_HOURS = CLIENT_CERTIFICATE_LIFETIME.validityHours;

/** Binds our admin certificate's group to cluster-admin; Talos applies it at bootstrap. */
export function adminBindingManifest(): string {
  return stringify({
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: "ske-platform-admins" },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: ADMIN_GROUP }],
  });
}

/** Admin kubeconfig and talosconfig, both secret. */
export interface ClusterAccess {
  kubeconfig: pulumi.Output<string>;
  talosconfig: pulumi.Output<string>;
}

/** Access built from our own CAs: nothing is fetched from the cluster. */
export function clusterAccess(
  s: ClusterScope,
  secrets: TalosMachineSecrets,
  controlPlaneAddresses: pulumi.Output<string[]>,
): ClusterAccess {
  const { name, args, parent } = s;
  const admin = clientCertificate(
    `${name}-admin`,
    {
      ca: secrets.kubernetesCa,
      algorithm: "ECDSA",
      commonName: ADMIN_USER,
      organization: ADMIN_GROUP,
      validityHours: CLIENT_CERT_HOURS,
    },
    { parent },
  );
  const kubeconfig = pulumi.secret(
    pulumi
      .all([secrets.kubernetesCa.certPem, admin.certPem, admin.keyPem])
      .apply(([caCertPem, clientCertPem, clientKeyPem]) =>
        renderKubeconfig({
          clusterName: args.name,
          endpoint: `https://${args.addresses.vip}:${API_SERVER_PORT}`,
          user: ADMIN_USER,
          caCertPem,
          clientCertPem,
          clientKeyPem,
        }),
      ),
  );

  const talosAdmin = clientCertificate(
    `${name}-talos-admin`,
    {
      ca: secrets.machineCa,
      algorithm: "ED25519",
      commonName: ADMIN_USER,
      // Talos API roles travel in the certificate's organization.
      organization: "os:admin",
      validityHours: CLIENT_CERT_HOURS,
    },
    { parent },
  );
  const talosconfig = pulumi.secret(
    pulumi
      .all([secrets.machineCa.certPem, talosAdmin.certPem, talosAdmin.keyPem, controlPlaneAddresses])
      .apply(([caCertPem, clientCertPem, clientKeyPem, endpoints]) =>
        renderTalosconfig({ clusterName: args.name, endpoints, caCertPem, clientCertPem, clientKeyPem }),
      ),
  );
  return { kubeconfig, talosconfig };
}
