/**
 * The `backups:` key: where and how often every cluster's etcd is
 * snapshotted (components/etcd-backup). Kept in its own module so the one
 * schema only gains a line.
 */
import { z } from "zod";
import { siteNameString } from "../plan/address-plan";
import { keystoneProjectId } from "../plan/project-plan";
import { plannedClusterNames } from "./archive-writers";
import { urlCredentialIssues } from "./url-credentials";

const httpsUrl = z.url({ protocol: /^https$/, message: "expected an https:// URL" }).superRefine(urlCredentialIssues);

/** Five cron fields; the CronJob controller refuses anything else, this refuses it before `up`. */
const cronField = "(\\*|\\d+(-\\d+)?)(\\/\\d+)?(,(\\*|\\d+(-\\d+)?)(\\/\\d+)?)*";
const cronSchedule = z.string().regex(new RegExp(`^${cronField}( ${cronField}){4}$`), {
  message: 'expected a five-field cron schedule such as "17 */6 * * *" (minute hour day month weekday)',
});

export const backupSiteSchema = z.strictObject({
  /** S3-compatible endpoint of the site's object storage (Ceph RGW), as for audit.archive. */
  endpoint: httpsUrl,
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: "expected an S3 bucket name" }),
});

export const backupsSchema = z.strictObject({
  /** When every cluster snapshots its etcd (UTC). */
  schedule: cronSchedule.default("17 */6 * * *"),
  /** COMPLIANCE object lock on every snapshot: nobody deletes one earlier. */
  lockDays: z.number().int().min(1).max(365).default(14),
  /** Each site's object storage: every cluster of the site writes there; a site left out has no backup (policy etcd-backups-put-only fails). */
  sites: z.record(siteNameString, backupSiteSchema),
  /**
   * Per cluster, the Keystone project (in the cluster's site) whose EC2
   * credential writes its snapshots: a project of its own, because RGW sees
   * every user of a project as one user, and the environment's own project
   * owns the bucket (docs/decisions/audit-archive-identity.md).
   */
  writerProjects: z.record(z.string(), keystoneProjectId),
});

export type BackupsConfig = z.infer<typeof backupsSchema>;

const PRODUCTION_GRADE = new Set(["production", "staging"]);

/**
 * Production-grade stacks keep backups on. A site missing from
 * backups.sites is not a config error: its clusters then have no backup,
 * and the policy etcd-backups-put-only fails the stack, naming them.
 */
export function backupIssues(config: {
  environment: string;
  sites: Record<string, unknown>;
  backups?: BackupsConfig | undefined;
}): Array<{ path: (string | number)[]; message: string }> {
  if (config.backups || !PRODUCTION_GRADE.has(config.environment)) return [];
  return [
    {
      path: ["backups"],
      message: `${config.environment} keeps etcd backups on: declare backups.sites.<site> (endpoint, bucket) for ${Object.keys(config.sites).join(", ")}`,
    },
  ];
}

/**
 * Every cluster of a site with backup storage writes as a project of its own:
 * not another cluster's (it could put under that prefix), nor its archive
 * writer (a collector's credential, on every node, could then plant
 * snapshots). Declared projects are refused in config/projects.ts.
 */
export function backupWriterProblems(config: {
  environment: string;
  sites: Record<string, unknown>;
  clusters: { ops: { site: string } };
  audit: { archive: { writerProjects: Record<string, string> } };
  backups?: BackupsConfig | undefined;
}): { key: string; message: string }[] {
  const backups = config.backups;
  if (!backups) return [];
  const issues: { key: string; message: string }[] = [];
  const at = (cluster: string) => `backups.writerProjects.${cluster}`;
  const planned = plannedClusterNames(config);
  const backedUp = planned.filter((c) =>
    Object.keys(backups.sites).some((site) => c.startsWith(`${config.environment}-${site}-`)),
  );
  for (const cluster of backedUp.filter((c) => !(c in backups.writerProjects))) {
    issues.push({
      key: at(cluster),
      message: `cluster ${cluster} has no backup writer project; each cluster's snapshots are written as its own Keystone project (docs/decisions/etcd-backups.md)`,
    });
  }
  const seen = new Map<string, string>();
  for (const [cluster, project] of Object.entries(backups.writerProjects)) {
    if (!planned.includes(cluster))
      issues.push({
        key: at(cluster),
        message: `${cluster} is not a cluster of this environment (clusters: ${planned.join(", ")})`,
      });
    const other = seen.get(project.toLowerCase());
    if (other)
      issues.push({
        key: at(cluster),
        message: `project ${project} is already the backup writer of ${other}; a shared writer could put under the other cluster's prefix`,
      });
    seen.set(project.toLowerCase(), cluster);
    const archiving = Object.entries(config.audit.archive.writerProjects).find(
      ([, p]) => p.toLowerCase() === project.toLowerCase(),
    );
    if (archiving)
      issues.push({
        key: at(cluster),
        message: `project ${project} is the archive writer of ${archiving[0]} (audit.archive.writerProjects); the collector's credential, on every node, could then plant snapshots`,
      });
  }
  return issues;
}
