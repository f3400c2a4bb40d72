import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";

export const ARGOCD_MANAGER = "argocd-manager";
const MANAGER_NAMESPACE = "kube-system";

export interface ArgoCdManagerAccessArgs {
  clusterName: string;
  /** Provider of the management cluster the account lives in. */
  provider: k8s.Provider;
}

/**
 * The identity Argo CD uses in a management cluster, created through that
 * cluster's own provider: a ServiceAccount, a long-lived token Secret for it,
 * and cluster-admin (Argo CD installs CRDs and cluster RBAC of add-ons). The
 * token is read back from the Secret and stays a Pulumi secret throughout.
 */
export class ArgoCdManagerAccess extends pulumi.ComponentResource {
  /** The decoded bearer token, a Pulumi secret. */
  readonly token: pulumi.Output<string>;

  constructor(name: string, args: ArgoCdManagerAccessArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:gitops:ArgoCdManagerAccess", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const labels = { "app.kubernetes.io/managed-by": "ske-platform", "app.kubernetes.io/part-of": "argocd" };

    const account = new k8s.core.v1.ServiceAccount(
      `${args.clusterName}-argocd-manager`,
      {
        metadata: { name: ARGOCD_MANAGER, namespace: MANAGER_NAMESPACE, labels },
      },
      child,
    );

    new k8s.rbac.v1.ClusterRoleBinding(
      `${args.clusterName}-argocd-manager`,
      {
        metadata: { name: ARGOCD_MANAGER, labels },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
        subjects: [{ kind: "ServiceAccount", name: ARGOCD_MANAGER, namespace: MANAGER_NAMESPACE }],
      },
      child,
    );

    // The token controller fills `data.token`; the provider waits for it. The
    // account must exist first, or the controller deletes the Secret.
    const tokenSecret = new k8s.core.v1.Secret(
      `${args.clusterName}-argocd-manager-token`,
      {
        metadata: {
          name: `${ARGOCD_MANAGER}-token`,
          namespace: MANAGER_NAMESPACE,
          labels,
          annotations: { "kubernetes.io/service-account.name": ARGOCD_MANAGER },
        },
        type: "kubernetes.io/service-account-token",
      },
      { ...child, dependsOn: [account] },
    );

    this.token = pulumi.secret(
      tokenSecret.data.apply((data) => {
        const encoded = data?.["token"];
        if (!encoded) throw new Error(`${args.clusterName}: the argocd-manager token Secret has no data.token`);
        return Buffer.from(encoded, "base64").toString("utf8");
      }),
    );
    this.registerOutputs({ token: this.token });
  }
}
