/**
 * What a cluster does and what it is called. One idea, two spellings: the
 * role ("management") names what the cluster is for, in types, labels and
 * Argo CD; the id ("mgmt") is its short form in every name the cluster gives
 * its resources, rule groups and address block. This is the one place the two
 * meet, so nothing else spells "mgmt" for a role or the other way round.
 */
import type { ClusterId } from "./security-rules";

export type ClusterRole = "ops" | "management";

/** The id (short form in names) of each role's cluster. */
export const CLUSTER_ID: Readonly<Record<ClusterRole, ClusterId>> = { ops: "ops", management: "mgmt" };

/** Globally unique name of a site's cluster of `role`, e.g. `production-osl2-mgmt`. */
export function clusterName(environment: string, site: string, role: ClusterRole): string {
  return `${environment}-${site}-${CLUSTER_ID[role]}`;
}
