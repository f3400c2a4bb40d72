/**
 * What one layer of the stack hands to the next. Each layer lives in its own
 * module under stacks/ and is wired together in platform.ts.
 */
import type * as k8s from "@pulumi/kubernetes";
import type * as openstack from "@pulumi/openstack";
import type * as pulumi from "@pulumi/pulumi";
import type { SiteNetwork } from "../components/site-network";
import type { ClusterPlan, SitePlan } from "../plan/platform-plan";

export interface DeployedSite {
  plan: SitePlan;
  /** The site's explicit OpenStack provider; nothing uses an ambient one. */
  provider: openstack.Provider;
  network: SiteNetwork;
}

export interface DeployedCluster {
  plan: ClusterPlan;
  /** `https://<load-balancer VIP>:6443`. */
  endpoint: pulumi.Output<string>;
  /** PEM of the cluster CA (public). */
  caCertificate: pulumi.Output<string>;
  /** Admin kubeconfig, a Pulumi secret. */
  kubeconfig: pulumi.Output<string>;
  /** Explicit provider for everything deployed into this cluster; absent when the Kubernetes layer is off. */
  provider?: k8s.Provider;
}

/** A deployed cluster with its Kubernetes provider: one the GitOps layer can deploy into. */
export type ReadyCluster = DeployedCluster & { provider: NonNullable<DeployedCluster["provider"]> };
