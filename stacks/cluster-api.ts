/**
 * Cluster API on the management clusters (issue 13): the ApplicationSets in
 * the ops cluster's Argo CD, and per management cluster the OpenStack
 * identity its providers create workload clusters with.
 */
import type * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { ClusterApiApplications, ClusterApiIdentity } from "../components/cluster-api";
import type { PlatformConfig } from "../config/schema";
import { CAPI_IDENTITY, CAPI_NAMESPACES, CLUSTER_API_VERSIONS } from "../plan/cluster-api";
import type { DeployedCluster, DeployedSite } from "./contracts";

export interface ClusterApiOutputs {
  versions: Record<string, string>;
  /** Per management cluster: where its identity is and which credential generation it holds. */
  identities: Record<string, { projectId: string; credentialName: string; identityRef: string }>;
}

export function deployClusterApi(args: {
  config: PlatformConfig;
  argocdNamespace: string;
  /** The Argo CD chart release: the AppProject and ApplicationSet CRDs come with it. */
  argocd: pulumi.Resource;
  ops: { provider: k8s.Provider };
  clusters: (DeployedCluster & { provider: k8s.Provider })[];
  sites: DeployedSite[];
}): ClusterApiOutputs {
  const env = args.config.environment;
  const management = args.clusters.filter((c) => c.plan.role === "management");
  new ClusterApiApplications(
    `${env}-cluster-api`,
    {
      environment: env,
      argocdNamespace: args.argocdNamespace,
      managementServers: management.map((c) => c.endpoint),
      provider: args.ops.provider,
    },
    { dependsOn: [args.argocd] },
  );

  const identities: ClusterApiOutputs["identities"] = {};
  for (const cluster of management) {
    const settings = args.config.sites[cluster.plan.site]?.clusterApi;
    if (!settings) continue;
    const site = args.sites.find((s) => s.plan.name === cluster.plan.site);
    if (!site)
      throw new Error(`${env}: management cluster ${cluster.plan.name} has no deployed site ${cluster.plan.site}`);
    const identity = new ClusterApiIdentity(`${cluster.plan.name}-capi-identity`, {
      environment: env,
      site: cluster.plan.site,
      clusterName: cluster.plan.name,
      region: site.plan.config.region,
      projectId: settings.projectId,
      authUrl: settings.authUrl,
      credentialGeneration: settings.credentialGeneration,
      credentialExpiresAt: settings.credentialExpiresAt,
      openstackProvider: site.provider,
      provider: cluster.provider,
    });
    identities[cluster.plan.name] = {
      projectId: settings.projectId,
      credentialName: identity.credentialName,
      identityRef: `${CAPI_NAMESPACES.workloads}/${CAPI_IDENTITY.secretName}`,
    };
  }
  const v = CLUSTER_API_VERSIONS;
  return {
    versions: {
      certManager: v.certManager.version,
      operator: v.operator.version,
      core: v.core.version,
      infrastructure: v.infrastructure.version,
      bootstrap: v.bootstrap.version,
      controlPlane: v.controlPlane.version,
    },
    identities,
  };
}
