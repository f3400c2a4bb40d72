/**
 * Argo CD's fixed identifiers that the program writes (components/argocd,
 * plan/cluster-api.ts) and the policies read back (policy/): one source, so
 * a policy never checks a different string from the one the program sets.
 */

/** The server URL Argo CD uses for the cluster it runs in. */
export const IN_CLUSTER_SERVER = "https://kubernetes.default.svc";

/** The label that makes a Secret an Argo CD cluster registration. */
export const CLUSTER_SECRET_TYPE_LABEL = "argocd.argoproj.io/secret-type";
