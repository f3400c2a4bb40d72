/**
 * etcd backups and credential lifetime (issue 12, items 5 and 6): every
 * cluster is snapshotted by a writer that can only put, and every client
 * certificate the program signs expires and is renewed before it does.
 */
import { lifetimeProblems } from "../plan/credential-lifetime";
import { policyDenials, policyGrants, policyProblems } from "../plan/object-lock";
import type { ArchiveWriter } from "../plan/bucket-policy";
import { TALOS_BACKUP_ROLE } from "../plan/etcd-backup";
import { needsDevDependency } from "./audit-trail-controls";
import {
  at,
  isOpaque,
  resourceId,
  typeChain,
  type PolicyResource,
  type ResourcePolicy,
  type StackPolicy,
  type Violation,
} from "./model";
import { displayText } from "../plan/display-text";

const T = {
  instance: "openstack:compute/instance:Instance",
  cronJob: "kubernetes:batch/v1:CronJob",
  command: "command:local:Command",
  ec2: "openstack:identity/ec2CredentialV3:Ec2CredentialV3",
  k8sProvider: "pulumi:providers:kubernetes",
  locallySignedCert: "tls:index/locallySignedCert:LocallySignedCert",
  certRequest: "tls:index/certRequest:CertRequest",
  backup: "ske:backup:EtcdBackup",
  bucket: "ske:backup:EtcdBackupBucket",
} as const;

const PRODUCTION_GRADE = new Set(["production", "staging"]);

function clustersWithControlPlanes(resources: readonly PolicyResource[]): string[] {
  const names = new Set<string>();
  for (const r of resources.filter((x) => x.type === T.instance)) {
    const cluster = at(r.props, ["metadata", "cluster"]);
    if (typeof cluster === "string" && at(r.props, ["metadata", "node-role"]) === "controlplane") names.add(cluster);
  }
  return [...names].sort();
}

type Env = Record<string, unknown>;
const envOf = (container: unknown): Env =>
  Object.fromEntries(
    ((at(container, ["env"]) as { name?: string; value?: unknown }[] | undefined) ?? []).map((e) => [
      String(e.name),
      e.value,
    ]),
  );
const podSpec = (cronJob: PolicyResource) => at(cronJob.props, ["spec", "jobTemplate", "spec", "template", "spec"]);

/** A cluster's backup as the stack declares it: the CronJob, its writer credential, the bucket's reconciler. */
function backupOf(resources: readonly PolicyResource[], cluster: string) {
  const inBackup = resources.filter(
    (r) => typeChain(r).includes(T.backup) && r.name.startsWith(`${cluster}-etcd-backup`),
  );
  const cronJob = inBackup.find(
    (r) =>
      r.type === T.cronJob &&
      ((at(podSpec(r), ["containers"]) as unknown[] | undefined) ?? []).some(
        (c) => envOf(c).BACKUP_CLUSTER === cluster,
      ),
  );
  const writer = inBackup.find((r) => r.type === T.ec2);
  return { cronJob, writer };
}

export const etcdBackedUp: StackPolicy = {
  kind: "stack",
  name: "etcd-backups-put-only",
  control: "6.2",
  enforcement: "mandatory",
  description: `Every cluster's etcd is snapshotted on a schedule by a CronJob whose Talos client may only take snapshots (${TALOS_BACKUP_ROLE}), to an object-lock (COMPLIANCE) bucket, by a writer project of its own (not the deploy identity's, which owns the bucket) whom the bucket policy allows s3:PutObject under the cluster's prefix and explicitly denies deleting, reading and changing the bucket.`,
  remediation:
    "Keep backups: configured (backups.sites.<site>, backups.writerProjects) and the Kubernetes layer on, so stacks/backups.ts gives each cluster components/etcd-backup's EtcdBackup; keep the bucket policy from plan/bucket-policy.ts archiveBucketPolicy(), which EtcdBackupBucket hands the archive's reconciler.",
  validate: ({ resources }, ctx) => {
    const clusters = clustersWithControlPlanes(resources);
    // The test environment may run without the Kubernetes layer (the lab); production and staging may not (controls-on).
    if (!PRODUCTION_GRADE.has(ctx.environment) && !resources.some((r) => r.type === T.k8sProvider)) return [];
    // The environment's own projects: their credentials are the deploy identity, which owns the buckets.
    const ownerProjects = new Set(Object.values(ctx.projects.environments[ctx.environment] ?? {}).map((p) => p.id));
    const judged = new Set<string>();
    return clusters.flatMap((cluster) => clusterBackupProblems(resources, cluster, ownerProjects, judged));
  },
};

/** One cluster's backup: a scheduled snapshot CronJob, a writer that is not the bucket owner, a bucket made to hold it. */
function clusterBackupProblems(
  resources: readonly PolicyResource[],
  cluster: string,
  ownerProjects: Set<string>,
  judged: Set<string>,
): Violation[] {
  const { cronJob, writer } = backupOf(resources, cluster);
  if (!cronJob) return [{ message: `${cluster} has no etcd backup CronJob` }];
  const violations = cronJobProblems(cluster, cronJob);
  const upload = ((at(podSpec(cronJob), ["containers"]) as unknown[] | undefined) ?? []).find(
    (c) => envOf(c).BACKUP_CLUSTER === cluster,
  );
  const bucket = envOf(upload).BACKUP_BUCKET;
  if (!writer) {
    violations.push({ resource: resourceId(cronJob), message: `${cluster}: no S3 credential of a backup writer` });
    return violations;
  }
  const projectId = writer.props.projectId;
  // RGW acts as one user per Keystone project: a credential in the environment's project (or with none, the caller's) is the bucket owner.
  if (projectId === undefined || projectId === "" || ownerProjects.has(displayText(projectId))) {
    violations.push({
      resource: resourceId(writer),
      message: `${cluster}: the backup credential is the deploy identity's own (project ${displayText(projectId ?? "of whoever runs up")}), which owns the bucket and can reconfigure it`,
    });
  }
  const reconciler = resources.find(
    (r) =>
      r.type === T.command &&
      typeChain(r).includes(T.bucket) &&
      at(r.props, ["environment", "ARCHIVE_BUCKET"]) === bucket,
  );
  if (!reconciler) {
    violations.push({
      resource: resourceId(cronJob),
      message: `${cluster}: its bucket ${String(bucket)} is not made by an EtcdBackupBucket (object lock, bucket policy)`,
    });
    return violations;
  }
  violations.push(...reconcilerProblems({ cluster, bucket, reconciler, writer, projectId, judged }));
  return violations;
}

/** The CronJob runs on a schedule, is not suspended and takes an etcd snapshot. */
function cronJobProblems(cluster: string, cronJob: PolicyResource): Violation[] {
  const violations: Violation[] = [];
  const spec = podSpec(cronJob);
  const schedule = at(cronJob.props, ["spec", "schedule"]);
  if (typeof schedule !== "string" || schedule.length === 0)
    violations.push({ resource: resourceId(cronJob), message: `${cluster}: the backup CronJob has no schedule` });
  if (at(cronJob.props, ["spec", "suspend"]) === true)
    violations.push({ resource: resourceId(cronJob), message: `${cluster}: the backup CronJob is suspended` });
  const snapshot = ((at(spec, ["initContainers"]) as { args?: unknown[] }[] | undefined) ?? []).find((c) =>
    (c.args ?? []).join(" ").includes("etcd snapshot"),
  );
  if (!snapshot)
    violations.push({
      resource: resourceId(cronJob),
      message: `${cluster}: the backup CronJob takes no etcd snapshot`,
    });
  return violations;
}

/** A cluster's bucket as its reconciler makes it, with the writer the cluster's backup uses. */
interface ClusterBucket {
  cluster: string;
  bucket: unknown;
  reconciler: PolicyResource;
  writer: PolicyResource;
  projectId: unknown;
  /** Reconcilers whose bucket policy was already judged, since clusters may share a bucket. */
  judged: Set<string>;
}

/** The reconciler runs on plain Node and sets object lock, retention and the bucket policy. */
function reconcilerProblems(b: ClusterBucket): Violation[] {
  const { cluster, bucket, reconciler } = b;
  const violations: Violation[] = [];
  for (const command of new Set([reconciler.props.create, reconciler.props.update])) {
    if (needsDevDependency(command))
      violations.push({
        resource: resourceId(reconciler),
        message: `bucket ${String(bucket)}: its reconciler runs \`${command}\`, which needs a devDependency at deploy time`,
      });
  }
  const env = at(reconciler.props, ["environment"]);
  if (isOpaque(env)) {
    violations.push({
      resource: resourceId(reconciler),
      message: `${cluster}: the bucket settings are not known at preview`,
    });
    return violations;
  }
  violations.push(...lockProblems(bucket, reconciler, env), ...bucketPolicyProblems(b, env));
  return violations;
}

/** Object lock in COMPLIANCE mode, a retention period, and no expiry before the lock ends. */
function lockProblems(bucket: unknown, reconciler: PolicyResource, env: unknown): Violation[] {
  const violations: Violation[] = [];
  if (at(env, ["ARCHIVE_LOCK_MODE"]) !== "COMPLIANCE")
    violations.push({
      resource: resourceId(reconciler),
      message: `bucket ${String(bucket)}: object lock is ${String(at(env, ["ARCHIVE_LOCK_MODE"]))}, not COMPLIANCE: the bucket owner could delete snapshots`,
    });
  if (!(Number(at(env, ["ARCHIVE_LOCK_DAYS"])) >= 1))
    violations.push({ resource: resourceId(reconciler), message: `bucket ${String(bucket)}: no retention period` });
  const expire = at(env, ["ARCHIVE_EXPIRE_DAYS"]);
  if (expire !== undefined && !(Number(expire) >= Number(at(env, ["ARCHIVE_LOCK_DAYS"])))) {
    violations.push({
      resource: resourceId(reconciler),
      message: `bucket ${String(bucket)}: snapshots would expire after ${displayText(expire)} days, before their lock ends`,
    });
  }
  return violations;
}

/** The bucket policy names the cluster's writer and is judged like the archive's (once per reconciler). */
function bucketPolicyProblems(b: ClusterBucket, env: unknown): Violation[] {
  const { cluster, bucket, reconciler, writer, projectId, judged } = b;
  let policy: unknown;
  try {
    policy = JSON.parse(String(at(env, ["ARCHIVE_BUCKET_POLICY"])));
  } catch {
    return [{ resource: resourceId(reconciler), message: `bucket ${String(bucket)}: no readable bucket policy` }];
  }
  if (typeof projectId !== "string" || isOpaque(projectId))
    return [{ resource: resourceId(writer), message: `${cluster}: the writer's project is not known` }];
  let writers: ArchiveWriter[];
  let foreignProjectIds: string[];
  try {
    writers = JSON.parse(String(at(env, ["ARCHIVE_WRITERS"]))) as ArchiveWriter[];
    foreignProjectIds = JSON.parse(String(at(env, ["ARCHIVE_FOREIGN_PROJECTS"]))) as string[];
  } catch {
    return [{ resource: resourceId(reconciler), message: `bucket ${String(bucket)}: its writers are not readable` }];
  }
  const violations: Violation[] = [];
  const named = writers.find((w) => w.cluster === cluster);
  if (named?.projectId !== projectId) {
    violations.push({
      resource: resourceId(writer),
      message: `${cluster}: its backup credential is project ${projectId}, but the bucket policy's writer for ${cluster} is ${named?.projectId ?? "none"}`,
    });
  }
  // The archive's judge of the same document: puts under each writer's prefix only, the writers' deny, the other environments' deny.
  if (judged.has(reconciler.name)) return violations;
  judged.add(reconciler.name);
  const policyJson = JSON.stringify(policy);
  for (const problem of policyProblems(
    { bucket: String(bucket), writers, foreignProjectIds },
    policyGrants(policyJson),
    policyDenials(policyJson),
  )) {
    violations.push({ resource: resourceId(reconciler), message: `bucket ${String(bucket)}: ${problem}` });
  }
  return violations;
}

export const clientCertificatesRenewed: ResourcePolicy = {
  kind: "resource",
  name: "client-certificates-renewed",
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "Every client certificate the program signs (admin kubeconfig, os:admin and os:etcd:backup talosconfigs) lives at most 90 days and is renewed by `pulumi up` before it expires (earlyRenewalHours), so a stolen copy does not stay valid for long.",
  remediation:
    "Sign client certificates through clientCertificate() in components/talos/secrets.ts, with the lifetime of plan/credential-lifetime.ts.",
  // Client certificates, and any whose uses are not known: a server-only certificate (the audit ingest gateway's) is not a credential someone can log in with.
  appliesTo: (r) =>
    r.type === T.locallySignedCert &&
    (!Array.isArray(r.props.allowedUses) || r.props.allowedUses.includes("client_auth")),
  validate: (r) => {
    const validityHours = r.props.validityPeriodHours;
    const earlyRenewalHours = r.props.earlyRenewalHours;
    if (isOpaque(validityHours) || isOpaque(earlyRenewalHours))
      return [`${r.name}: its lifetime is not known at preview`];
    return lifetimeProblems({
      validityHours: validityHours as number,
      earlyRenewalHours: earlyRenewalHours as number,
    }).map((p) => `${r.name}: ${p}`);
  },
};

export const BACKUP_POLICIES = [etcdBackedUp, clientCertificatesRenewed] as const;
