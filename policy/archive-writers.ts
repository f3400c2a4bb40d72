/**
 * The audit archive's writers (issue 11 B2): each collector writes with the
 * credential of a Keystone project of its own that the bucket policy lets
 * only put objects under its cluster's prefix. A pure policy over resource
 * records, registered through policy/audit-trail-controls.ts.
 */
import { displayText } from "../plan/display-text";
import { isPlatformLogCollector } from "./central-view";
import {
  OPAQUE,
  at,
  field,
  isOpaque,
  resourceId,
  typeChain,
  type PolicyResource,
  type StackPolicy,
  type Violation,
} from "./model";
import { bucketsOf } from "./project-separation";

const HELM_RELEASE = "kubernetes:helm.sh/v3:Release";
const EC2 = "openstack:identity/ec2CredentialV3:Ec2CredentialV3";
const COMMAND = "command:local:Command";
const SECRET = "kubernetes:core/v1:Secret";
const WRITER_PROJECT = "ske-platform/archive-writer-project";
const WRITER_CREDENTIAL = "ske-platform/archive-writer-credential";
/** What a writer must be denied explicitly; the policy's own list, not the component's. */
const MUST_DENY = [
  "s3:DeleteObject",
  "s3:DeleteObjectVersion",
  "s3:PutObjectRetention",
  "s3:BypassGovernanceRetention",
  "s3:PutBucketObjectLockConfiguration",
  "s3:PutBucketPolicy",
  "s3:DeleteBucketPolicy",
  "s3:PutLifecycleConfiguration",
  "s3:DeleteBucket",
];
const asList = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : v === undefined ? [] : [displayText(v)]);

/** The archive's one bucket policy, read where object-storage-in-environment reads it: what the reconciler sets. */
function bucketPolicyOf(reconcile: PolicyResource): { bucket: string; statements: Record<string, unknown>[] } | string {
  const [archive] = bucketsOf([reconcile]);
  if (isOpaque(reconcile.props.environment) || archive?.policy === OPAQUE)
    return "its settings are not known at preview";
  if (!archive || archive.policy === undefined) return "it declares no bucket policy for the writers";
  const doc = archive.policy as { Statement?: unknown; unparsable?: unknown };
  if (doc.unparsable !== undefined) return "its bucket policy is not JSON";
  return {
    bucket: archive.bucket,
    statements: (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Record<string, unknown>[],
  };
}

/** A reconciler command that needs more than plain Node and the runtime dependencies at deploy time. */
export const needsDevDependency = (command: unknown): command is string =>
  typeof command === "string" && (!/^node\s/.test(command) || /\b(tsx|npx|ts-node|esbuild)\b/.test(command));

export const archiveWritersPutOnly: StackPolicy = {
  kind: "stack",
  name: "archive-writers-put-only",
  control: "6.5-audit",
  enforcement: "mandatory",
  description:
    "The audit archive is append-only in practice: each collector holds the EC2 credential of its own Keystone writer project, never the deploy identity's (the bucket owner's); the bucket policy lets that project put objects under its cluster's prefix and nothing else, and explicitly denies it deletes and lock, policy or lifecycle changes; the reconciler runs on plain Node, with no devDependency.",
  remediation:
    "Give every cluster its own audit.archive.writerProjects entry, hand the collector only that project's credential (stacks/gitops.ts), and keep plan/bucket-policy.ts archiveBucketPolicy (Allow s3:PutObject on <bucket>/<cluster>/*, Deny everything else that matters).",
  validate: ({ resources }) => {
    // The platform-log collector has no archive sink; only audit collectors write to the archive.
    const collectors = resources.filter(
      (r) => r.type === HELM_RELEASE && r.props.chart === "vector" && !isPlatformLogCollector(r),
    );
    if (collectors.length === 0) return [];
    // The same reconciler makes the etcd backup buckets; policy etcd-backups-put-only judges those.
    const reconcilers = resources.filter(
      (r) =>
        r.type === COMMAND &&
        typeof r.props.create === "string" &&
        r.props.create.includes("audit-archive-bucket") &&
        !typeChain(r).includes("ske:backup:EtcdBackupBucket"),
    );
    if (reconcilers.length === 0)
      return [
        {
          message:
            "the collectors write to an archive that no reconciler configures, so nothing limits what their credential may do",
        },
      ];
    const credentials = resources.filter((r) => r.type === EC2);
    const violations = reconcilerCommandProblems(reconcilers);
    const policy = bucketPolicyOf(reconcilers[0]!);
    if (typeof policy === "string")
      return [...violations, { resource: resourceId(reconcilers[0]!), message: `archive reconciler: ${policy}` }];
    const allows = policy.statements.filter((s) => s?.Effect === "Allow");
    const denies = policy.statements.filter((s) => s?.Effect === "Deny");
    violations.push(...allowProblems(allows));

    const writers: ArchiveWriters = {
      resources,
      credentials,
      ownerCredentials: new Set(credentials.filter((c) => !c.props.projectId).map((c) => c.name)),
      writersSeen: new Map<string, string>(),
      bucket: policy.bucket,
      allows,
      denies,
    };
    for (const collector of collectors) violations.push(...collectorWriterProblems(collector, writers));
    return violations;
  },
};

/** Reconcilers whose commands would need a devDependency at deploy time. */
function reconcilerCommandProblems(reconcilers: readonly PolicyResource[]): Violation[] {
  const violations: Violation[] = [];
  for (const reconcile of reconcilers) {
    for (const command of [reconcile.props.create, reconcile.props.update]) {
      if (needsDevDependency(command)) {
        violations.push({
          resource: resourceId(reconcile),
          message: `the archive reconciler runs \`${command}\`, which needs a devDependency at deploy time`,
        });
      }
    }
  }
  return violations;
}

/** Allow statements may grant only s3:PutObject, and never to anyone. */
function allowProblems(allows: readonly Record<string, unknown>[]): Violation[] {
  const violations: Violation[] = [];
  for (const s of allows) {
    const principals = s.Principal === "*" ? ["*"] : asList(field(s.Principal, "AWS") ?? s.Principal);
    if (principals.includes("*"))
      violations.push({ message: `the archive's bucket policy allows ${asList(s.Action).join(", ")} to anyone` });
    const extra = asList(s.Action).filter((a) => a !== "s3:PutObject");
    if (extra.length > 0)
      violations.push({
        message: `the archive's bucket policy allows ${extra.join(", ")} to ${principals.join(", ")}`,
      });
  }
  return violations;
}

/** What the collectors' checks share: the stack's credentials, the writers seen so far and the bucket policy. */
interface ArchiveWriters {
  resources: readonly PolicyResource[];
  credentials: readonly PolicyResource[];
  ownerCredentials: Set<string>;
  writersSeen: Map<string, string>;
  bucket: string;
  allows: readonly Record<string, unknown>[];
  denies: readonly Record<string, unknown>[];
}

/** One collector's archive identity: its own writer project's credential, and what the bucket policy grants it. */
function collectorWriterProblems(collector: PolicyResource, w: ArchiveWriters): Violation[] {
  const secret = w.resources.find(
    (r) => r.type === SECRET && r.name === collector.name.replace(/-vector$/, "-archive-credentials"),
  );
  const annotations = (secret ? at(secret.props, ["metadata", "annotations"]) : undefined) as
    Record<string, unknown> | undefined;
  const project = annotations?.[WRITER_PROJECT];
  const credentialName = annotations?.[WRITER_CREDENTIAL];
  if (!secret || typeof project !== "string" || typeof credentialName !== "string") {
    return [
      {
        resource: resourceId(collector),
        message: `${collector.name}: its archive credential names no writer identity, so it may be the deploy identity's`,
      },
    ];
  }
  return [
    ...writerCredentialProblems(collector, project, credentialName, w),
    ...writerGrantProblems(collector, project, w),
  ];
}

/** The collector's credential is its own writer project's, created here, and no other collector shares the project. */
function writerCredentialProblems(
  collector: PolicyResource,
  project: string,
  credentialName: string,
  w: ArchiveWriters,
): Violation[] {
  const violations: Violation[] = [];
  const credential = w.credentials.find((c) => c.name === credentialName);
  if (!credential)
    violations.push({
      resource: resourceId(collector),
      message: `${collector.name}: its archive credential ${credentialName} is not created by this stack`,
    });
  else if (w.ownerCredentials.has(credential.name) || credential.props.projectId !== project) {
    violations.push({
      resource: resourceId(collector),
      message: `${collector.name} holds ${credential.name}, the deploy identity's credential (the bucket owner), which can delete and reconfigure the archive`,
    });
  }
  const other = w.writersSeen.get(project);
  if (other)
    violations.push({
      resource: resourceId(collector),
      message: `${collector.name} writes as project ${project}, like ${other}, so each could write under the other's prefix`,
    });
  w.writersSeen.set(project, collector.name);
  return violations;
}

/** The bucket policy lets the writer put under its cluster's prefix only, and denies it everything in MUST_DENY. */
function writerGrantProblems(collector: PolicyResource, project: string, w: ArchiveWriters): Violation[] {
  const prefix = at(collector.props, ["values", "customConfig", "sinks", "archive", "key_prefix"]);
  if (isOpaque(prefix)) {
    return [
      {
        resource: resourceId(collector),
        message: `${collector.name}: its archive sink is not known at preview`,
      },
    ];
  }
  const violations: Violation[] = [];
  const clusterDir = typeof prefix === "string" ? prefix.split("/")[0] : undefined;
  const principal = `arn:aws:iam:::user/${project}`;
  const granted = w.allows.filter((s) => asList(field(s.Principal, "AWS") ?? s.Principal).includes(principal));
  const resourcesGranted = granted.flatMap((s) => asList(s.Resource));
  if (granted.length === 0)
    violations.push({
      resource: resourceId(collector),
      message: `${collector.name}: the bucket policy grants its writer ${principal} nothing, so it cannot archive`,
    });
  else if (!clusterDir || resourcesGranted.some((r) => r !== `arn:aws:s3:::${w.bucket}/${clusterDir}/*`)) {
    violations.push({
      resource: resourceId(collector),
      message: `${collector.name}: its writer may put to ${resourcesGranted.join(", ")}, not only under its own prefix ${clusterDir ?? "(none)"}/`,
    });
  }
  const denied = new Set(
    w.denies
      .filter((s) => asList(field(s.Principal, "AWS") ?? s.Principal).includes(principal))
      .flatMap((s) => asList(s.Action)),
  );
  const missing = MUST_DENY.filter((a) => !denied.has(a));
  if (missing.length > 0)
    violations.push({
      resource: resourceId(collector),
      message: `${collector.name}: the bucket policy does not deny its writer ${missing.join(", ")}`,
    });
  return violations;
}
