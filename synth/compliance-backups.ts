/**
 * compliance.md's evidence for etcd backups: per cluster, the schedule, where
 * snapshots go, the object lock, and what the writer may do.
 */
import { policyDenials, policyGrants, policyProblems } from "../plan/object-lock";
import type { ArchiveWriter } from "../plan/bucket-policy";
import { at, typeChain, type PolicyResource } from "../policy/model";
import { displayText } from "../plan/display-text";

const esc = (text: string) => text.replace(/\|/g, "\\|");

export function backupLines(resources: readonly PolicyResource[]): string[] {
  const jobs = resources.filter(
    (r) => r.type === "kubernetes:batch/v1:CronJob" && typeChain(r).includes("ske:backup:EtcdBackup"),
  );
  const rows = jobs.map((job) => {
    const upload = ((at(job.props, ["spec", "jobTemplate", "spec", "template", "spec", "containers"]) as
      { env?: { name: string; value?: unknown }[] }[] | undefined) ?? [])[0];
    const env = Object.fromEntries((upload?.env ?? []).map((e) => [e.name, e.value]));
    const cluster = String(env.BACKUP_CLUSTER);
    const bucket = String(env.BACKUP_BUCKET);
    const reconciler = resources.find(
      (r) =>
        r.type === "command:local:Command" &&
        typeChain(r).includes("ske:backup:EtcdBackupBucket") &&
        at(r.props, ["environment", "ARCHIVE_BUCKET"]) === bucket,
    );
    const writer = resources.find(
      (r) =>
        r.type === "openstack:identity/ec2CredentialV3:Ec2CredentialV3" &&
        r.name === `${cluster}-etcd-backup-writer-s3`,
    );
    let writerRights = "no writer credential";
    if (reconciler && writer) {
      const setting = (key: string) => String(at(reconciler.props, ["environment", key]));
      let problems: string[];
      try {
        const writers = JSON.parse(setting("ARCHIVE_WRITERS")) as ArchiveWriter[];
        const policyJson = setting("ARCHIVE_BUCKET_POLICY");
        // Judged as the reconciler judges what it reads back, for this cluster's writer.
        problems = policyProblems(
          { bucket, writers, foreignProjectIds: JSON.parse(setting("ARCHIVE_FOREIGN_PROJECTS")) as string[] },
          policyGrants(policyJson),
          policyDenials(policyJson),
        ).filter((p) => !writers.some((w) => w.cluster !== cluster && p.includes(`writer of ${w.cluster}`)));
        const named = writers.find((w) => w.cluster === cluster);
        if (named?.projectId !== writer.props.projectId)
          problems.push(
            `the credential's project ${String(writer.props.projectId)} is not the policy's writer ${named?.projectId ?? "(none)"}`,
          );
      } catch {
        problems = ["the bucket's settings are not readable"];
      }
      writerRights =
        problems.length === 0
          ? `put only, under ${String(env.BACKUP_PREFIX)}; delete, read and bucket settings denied`
          : `PROBLEMS: ${problems.join("; ")}`;
    }
    const expire = reconciler ? at(reconciler.props, ["environment", "ARCHIVE_EXPIRE_DAYS"]) : undefined;
    const lock = reconciler
      ? `${String(at(reconciler.props, ["environment", "ARCHIVE_LOCK_MODE"]))} ${String(at(reconciler.props, ["environment", "ARCHIVE_LOCK_DAYS"]))} days${expire === undefined ? "; never expire" : `; expire after ${displayText(expire)} days`}`
      : "no bucket reconciler";
    return `| ${esc(cluster)} | \`${esc(String(at(job.props, ["spec", "schedule"])))}\` UTC | ${esc(String(env.BACKUP_ENDPOINT))}/${esc(bucket)}/${esc(String(env.BACKUP_PREFIX))} | ${esc(lock)} | ${esc(writerRights)} |`;
  });
  return [
    "etcd backups (encrypted to each cluster's key, whose private half only the stack's secrets hold):",
    "",
    ...(rows.length
      ? ["| cluster | schedule | snapshots | object lock | writer |", "| --- | --- | --- | --- | --- |", ...rows]
      : ["_(no etcd backup in this stack)_"]),
    "",
  ];
}
