/**
 * The `backups:` key: where and how often every cluster's etcd is
 * snapshotted (components/etcd-backup). Kept in its own module so the one
 * schema only gains a line.
 */
import { z } from "zod";
import { siteNameString } from "../plan/address-plan";
import { urlCredentialIssues } from "./url-credentials";

const httpsUrl = z.url({ protocol: /^https$/, message: "expected an https:// URL" }).superRefine(urlCredentialIssues);

/** Five cron fields; the CronJob controller refuses anything else, this refuses it before `up`. */
const cronField = "(\\*|\\d+(-\\d+)?)(\\/\\d+)?(,(\\*|\\d+(-\\d+)?)(\\/\\d+)?)*";
const cronSchedule = z.string().regex(new RegExp(`^${cronField}( ${cronField}){4}$`), {
  message: "expected a five-field cron schedule such as \"17 */6 * * *\" (minute hour day month weekday)",
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
  return [{ path: ["backups"], message: `${config.environment} keeps etcd backups on: declare backups.sites.<site> (endpoint, bucket) for ${Object.keys(config.sites).join(", ")}` }];
}
