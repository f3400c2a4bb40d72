/**
 * The backups layer: every cluster's etcd, snapshotted on a schedule to its
 * site's object-lock bucket (components/etcd-backup). Needs the Kubernetes
 * layer, like the audit collectors.
 */
import * as pulumi from "@pulumi/pulumi";
import { EtcdBackup, EtcdBackupBucket } from "../components/etcd-backup";
import type { CertificateAuthority } from "../components/talos/secrets";
import type { PlatformConfig } from "../config/schema";
import { DEFAULT_TOOL_PINS } from "../plan/deploy-runner-tools";
import { backupPrefix } from "../plan/etcd-backup";
import type { PlatformPlan } from "../plan/platform-plan";
import { declaredProject, type ProjectPlan } from "../plan/project-plan";
import type { ArchiveReadBackReport } from "../components/audit-trail";
import type { DeployedCluster, DeployedSite } from "./contracts";
import { committedOwnership, foreignProjectIdsOf } from "../config/cross-stack";
import { REPO_ROOT } from "../config/load";

/** A cluster as the backups need it: its Talos API CA and control-plane addresses besides the contract. */
export interface BackedUpCluster extends DeployedCluster {
  talosCa: CertificateAuthority;
  nodeAddresses: { controlPlane: pulumi.Output<string[]> };
}

export interface BackupOutputs {
  schedule: string;
  lockDays: number;
  /** Per cluster: where its snapshots are, and (secret) the key that opens them. */
  clusters: Record<
    string,
    { site: string; endpoint: string; bucket: string; prefix: string; decryptionKeyPem: pulumi.Output<string> }
  >;
  /** Per site bucket: lock, policy and expiry as RGW answered on this run (the archive reconciler's verify). */
  buckets: Record<string, { bucket: string; readBack: pulumi.Output<ArchiveReadBackReport> }>;
}

export interface DeployBackupsArgs {
  plan: PlatformPlan;
  config: PlatformConfig;
  clusters: readonly BackedUpCluster[];
  sites: readonly DeployedSite[];
  projects: ProjectPlan;
}

/** Undefined when backups are not configured or the Kubernetes layer is off (nothing can run in the clusters). */
export function deployBackups({
  plan,
  config,
  clusters,
  sites,
  projects,
}: DeployBackupsArgs): BackupOutputs | undefined {
  const backups = config.backups;
  if (!backups || !config.layers.kubernetes || clusters.length === 0 || clusters.some((c) => !c.provider))
    return undefined;
  const env = plan.environment;
  const foreign = foreignProjectIdsOf(env, projects, committedOwnership(REPO_ROOT));
  const outputs: BackupOutputs = { schedule: backups.schedule, lockDays: backups.lockDays, clusters: {}, buckets: {} };
  const writerProject = (cluster: string) => {
    const id = backups.writerProjects[cluster];
    if (!id) throw new Error(`${env}: backups.writerProjects has no project for ${cluster}`);
    return id;
  };

  for (const site of sites) {
    const storage = backups.sites[site.plan.name];
    // Left out on purpose or by mistake: policy etcd-backups-put-only names these clusters.
    if (!storage) continue;
    const project = declaredProject(projects, env, site.plan.name);
    if (!project)
      throw new Error(
        `${env}: openstack-projects.yaml declares no project for site ${site.plan.name}, which owns its backup bucket`,
      );
    const siteClusters = clusters.filter((c) => c.plan.site === site.plan.name);
    if (siteClusters.length === 0) continue;
    const region = site.plan.config.region;

    const bucket = new EtcdBackupBucket(`${site.plan.prefix}-etcd-backups`, {
      site: site.plan.name,
      endpoint: storage.endpoint,
      bucket: storage.bucket,
      region,
      lockDays: backups.lockDays,
      writers: siteClusters.map((c) => ({ cluster: c.plan.name, projectId: writerProject(c.plan.name) })),
      foreignProjectIds: foreign,
      projectId: project.id,
      provider: site.provider,
    });
    outputs.buckets[site.plan.name] = { bucket: storage.bucket, readBack: bucket.readBack };

    for (const cluster of siteClusters) {
      const backup = new EtcdBackup(`${cluster.plan.name}-etcd-backup`, {
        cluster: cluster.plan.name,
        site: site.plan.name,
        endpoint: storage.endpoint,
        bucket: storage.bucket,
        region,
        schedule: backups.schedule,
        talosVersion: config.clusters.talosVersion,
        nodeVersion: config.runners?.tools.node.version ?? DEFAULT_TOOL_PINS.node.version,
        talosCa: cluster.talosCa,
        controlPlaneAddresses: cluster.nodeAddresses.controlPlane,
        writerProjectId: writerProject(cluster.plan.name),
        protect: config.protection.statefulResources,
        openstackProvider: site.provider,
        provider: cluster.provider!,
      });
      outputs.clusters[cluster.plan.name] = {
        site: site.plan.name,
        endpoint: storage.endpoint,
        bucket: storage.bucket,
        prefix: backupPrefix(cluster.plan.name),
        decryptionKeyPem: pulumi.secret(backup.decryptionKeyPem),
      };
    }
  }
  return outputs;
}
