/**
 * Argo CD's read-only key to the GitOps repository: the one definition, used
 * by the GitHub layer (which registers the public half as a deploy key) and,
 * when that layer is off, by the GitOps layer (whose output then asks an
 * operator to register it by hand).
 */
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";

export interface ArgoCdDeployKey {
  /** PKCS#8 PEM, a Pulumi secret: only for Argo CD's repository secret, never a stack output. */
  privateKeyPem: pulumi.Output<string>;
  publicKeyOpenssh: pulumi.Output<string>;
  fingerprintSha256: pulumi.Output<string>;
}

/**
 * Generated, not made by hand: the private half lives only in state (as a
 * secret) and in the Argo CD repository secret built from it. One per
 * environment, so its resource name is the environment's.
 */
export function argocdDeployKey(environment: string): ArgoCdDeployKey {
  const key = new tls.PrivateKey(`${environment}-argocd-deploy-key`, { algorithm: "ED25519" });
  return {
    privateKeyPem: pulumi.secret(key.privateKeyPem),
    publicKeyOpenssh: key.publicKeyOpenssh,
    fingerprintSha256: key.publicKeyFingerprintSha256,
  };
}
