import { clusterName } from "../plan/cluster-names";

/**
 * Each cluster's audit collector writes to the archive as its own Keystone
 * project (docs/decisions/audit-archive-identity.md): the stack file names
 * one project per cluster of the environment, and no project twice.
 */
interface WriterConfig {
  environment: string;
  sites: Record<string, unknown>;
  clusters: { ops: { site: string } };
  audit: { archive: { writerProjects: Record<string, string> } };
  backups?: { writerProjects: Record<string, string> } | undefined;
}

/** Cluster names exactly as plan/platform-plan.ts forms them. */
export function plannedClusterNames(config: Pick<WriterConfig, "environment" | "sites" | "clusters">): string[] {
  return Object.keys(config.sites).flatMap((site) => [
    ...(site === config.clusters.ops.site ? [clusterName(config.environment, site, "ops")] : []),
    clusterName(config.environment, site, "management"),
  ]);
}

/** Problems as `{ key, message }`, keys relative to the namespace; the loader adds file and prefix. */
export function archiveWriterProblems(config: WriterConfig): { key: string; message: string }[] {
  const problems: { key: string; message: string }[] = [];
  const at = (cluster: string) => `audit.archive.writerProjects.${cluster}`;
  const writers = config.audit.archive.writerProjects;
  const planned = plannedClusterNames(config);
  for (const cluster of planned.filter((c) => !(c in writers))) {
    problems.push({
      key: at(cluster),
      message: `cluster ${cluster} has no archive writer project; each cluster's collector writes as its own Keystone project (docs/decisions/audit-archive-identity.md)`,
    });
  }
  for (const cluster of Object.keys(writers).filter((c) => !planned.includes(c))) {
    problems.push({
      key: at(cluster),
      message: `${cluster} is not a cluster of this environment (clusters: ${planned.join(", ")})`,
    });
  }
  const seen = new Map<string, string>();
  for (const [cluster, project] of Object.entries(writers)) {
    const other = seen.get(project.toLowerCase());
    if (other)
      problems.push({
        key: at(cluster),
        message: `project ${project} is already the writer of ${other}; a shared writer could write under the other cluster's prefix`,
      });
    seen.set(project.toLowerCase(), cluster);
  }
  return problems;
}

/**
 * A writer is a project of its own, never a declared one (openstack-projects.yaml):
 * not this environment's, whose RGW user is the deploy identity that owns the
 * bucket and may delete and reconfigure, nor another environment's, which the
 * bucket policy denies everything.
 */
export function writerProjectClashes(
  config: Pick<WriterConfig, "environment" | "audit" | "backups">,
  declared: readonly { environment: string; site: string; project: { id: string } }[],
  projectsFile: string,
): { key: string; message: string }[] {
  const writers = [
    ...Object.entries(config.audit.archive.writerProjects).map(([cluster, project]) => ({
      key: `audit.archive.writerProjects.${cluster}`,
      project,
    })),
    ...Object.entries(config.backups?.writerProjects ?? {}).map(([cluster, project]) => ({
      key: `backups.writerProjects.${cluster}`,
      project,
    })),
  ];
  return writers.flatMap(({ key, project }) => {
    const owner = declared.find((d) => d.project.id.toLowerCase() === project.toLowerCase());
    if (!owner) return [];
    const whose =
      owner.environment === config.environment
        ? `${config.environment}'s own project in ${projectsFile} (${owner.site}), the deploy identity that owns the bucket and can delete and reconfigure it`
        : `${owner.environment}'s project in ${projectsFile} (${owner.site}), which the bucket policy denies everything`;
    return [{ key, message: `project ${project} is ${whose}; a writer is a project of its own` }];
  });
}
