import type * as openstack from "@pulumi/openstack";
import { REPO_ROOT, type LoadedConfig } from "../config/load";
import { committedOwnership, foreignProjectIdsOf } from "../config/cross-stack";
import type { PlatformConfig } from "../config/schema";
import { declaredProject, type ProjectPlan } from "../plan/project-plan";
import { buildPlatformPlan, type PlatformPlan } from "../plan/platform-plan";
import { deployBackups, type BackupOutputs } from "./backups";
import { readProjectPlan } from "../config/projects";
import { deployChangeManagement, type ChangeManagementOutputs } from "./change-management";
import { clusterOutputs, deployClusters, type ClusterOutputs } from "./clusters";
import { deployDeployRunners, type DeployRunnerOutputs } from "./deploy-runners";
import { deployGitOps, type GitOpsOutputs } from "./gitops";
import { deploySites, siteOutputs, type SiteOutputs } from "./sites";

export interface PlatformOutputs {
  environment: string;
  supernet: string;
  opsSite: string;
  sites: Record<string, SiteOutputs>;
  /** Per cluster name; empty when the clusters layer is off. */
  clusters: Record<string, ClusterOutputs>;
  /** Absent when the GitHub layer is off. */
  github?: ChangeManagementOutputs;
  /** Absent when the Kubernetes layer is off. */
  gitops?: GitOpsOutputs;
  /** Absent when the clusters layer is off. */
  deployRunners?: DeployRunnerOutputs;
  /** etcd backups per cluster; absent when the Kubernetes layer is off. Decryption keys are secrets. */
  backups?: BackupOutputs;
}

/**
 * One environment: everything a stack deploys, from validated config. The
 * same function runs under `pulumi up`, under the offline synth and in tests.
 */
export function deployPlatform(
  loaded: LoadedConfig,
  checked: { providers: ReadonlyMap<string, openstack.Provider>; projects: ProjectPlan },
): PlatformOutputs {
  const plan: PlatformPlan = buildPlatformPlan(loaded.config, loaded.addressPlan);
  const deployedSites = deploySites(plan, checked.providers);
  const deployedClusters = deployClusters({ plan, config: loaded.config, sites: deployedSites });
  const deployRunners = deployDeployRunners({ plan, config: loaded.config, sites: deployedSites });

  // Its deployKeyPrivatePem (a secret) is for the Argo CD layer, never a stack output.
  const changeManagement = deployChangeManagement({ plan, config: loaded.config });

  const gitops = deployGitOps({
    plan,
    config: loaded.config,
    clusters: deployedClusters,
    sites: deployedSites,
    ...(changeManagement ? { deployKeyPrivatePem: changeManagement.deployKeyPrivatePem } : {}),
    archiveSeparation: archiveSeparation(plan, loaded.config.audit.archive, checked.projects),
  });

  const backups = deployBackups({
    plan,
    config: loaded.config,
    clusters: deployedClusters,
    sites: deployedSites,
    projects: checked?.projects ?? readProjectPlan(),
  });

  return {
    environment: plan.environment,
    supernet: plan.supernet,
    opsSite: plan.opsSite,
    sites: siteOutputs(deployedSites),
    clusters: clusterOutputs(deployedClusters),
    ...(changeManagement ? { github: changeManagement.outputs } : {}),
    ...(gitops ? { gitops } : {}),
    ...(deployRunners ? { deployRunners } : {}),
    ...(backups ? { backups } : {}),
  };
}

/**
 * The archive's project, and the projects its bucket policy denies: every
 * other environment's declared projects and, because RGW sees each Keystone
 * project as a user of its own, their archive writer projects too (from the
 * committed stack files).
 */
export function archiveSeparation(
  plan: PlatformPlan,
  archive: PlatformConfig["audit"]["archive"],
  projects: ProjectPlan,
  committed = committedOwnership(REPO_ROOT),
) {
  const own = declaredProject(projects, plan.environment, archive.site);
  if (!own)
    throw new Error(
      `${plan.environment}: openstack-projects.yaml declares no project for the archive site ${archive.site}`,
    );
  return { projectId: own.id, foreignProjectIds: foreignProjectIdsOf(plan.environment, projects, committed) };
}
