/**
 * Bucket policies that keep object storage inside its environment, the one
 * document the audit archive carries, and the reading of any bucket policy
 * or ACL that the policy pack and the archive reconciler judge. Pure.
 *
 * Plain Node loads this file (type stripping) for the archive reconciler,
 * through scripts/object-lock-bucket.ts: it imports nothing and uses no
 * TypeScript syntax that needs emitting.
 *
 * Principals are written the way Ceph RGW reads them when it authenticates
 * through Keystone with `rgw_keystone_implicit_tenants = false` (Ceph's
 * default): RGW acts as one user per Keystone project, named by the project
 * id, in the global tenant, so `arn:aws:iam:::user/<project id>` names every
 * credential of that project. With implicit tenants on, the tenant would be
 * the project id and bucket names would change too; see
 * docs/decisions/audit-archive-identity.md before switching it on.
 */

export interface BucketPolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal: "*" | { AWS: string | string[] };
  Action: string | string[];
  /** Exactly one of Resource and NotResource. */
  Resource?: string | string[];
  /** Everything but these: used to deny a writer every put outside its prefix. */
  NotResource?: string | string[];
  Condition?: Record<string, unknown>;
}

export interface BucketPolicyDocument {
  Version: "2012-10-17";
  Statement: BucketPolicyStatement[];
}

export const projectPrincipal = (projectId: string) => `arn:aws:iam:::user/${projectId}`;

/** A cluster's writer identity (audit collector, etcd backup): a Keystone project of its own, which RGW sees as one user. */
export interface ArchiveWriter {
  cluster: string;
  projectId: string;
}

/**
 * Everything a writer must never do, denied explicitly so no later Allow can
 * grant it: delete, touch retention or the bucket's settings, or read (a
 * writer reads nothing back; etcd snapshots hold every Secret of a cluster).
 */
export const WRITER_DENIED_ACTIONS = [
  "s3:DeleteObject",
  "s3:DeleteObjectVersion",
  "s3:PutObjectRetention",
  "s3:PutObjectLegalHold",
  "s3:BypassGovernanceRetention",
  "s3:PutObjectAcl",
  "s3:PutObjectVersionAcl",
  "s3:PutBucketObjectLockConfiguration",
  "s3:PutBucketPolicy",
  "s3:DeleteBucketPolicy",
  "s3:PutBucketAcl",
  "s3:PutBucketVersioning",
  "s3:PutLifecycleConfiguration",
  "s3:DeleteBucket",
  "s3:GetObject",
  "s3:GetObjectVersion",
  "s3:ListBucket",
  "s3:ListBucketVersions",
];

export function writerProblems(writers: readonly ArchiveWriter[]): string[] {
  const problems: string[] = [];
  if (writers.length === 0) problems.push("no writer identities");
  const byProject = new Map<string, string[]>();
  for (const w of writers) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(w.cluster)) problems.push(`cluster name "${w.cluster}" cannot be a key prefix`);
    if (!/^[0-9a-f]{32}$/.test(w.projectId))
      problems.push(`writer project of ${w.cluster} is not a Keystone project id (32 lower-case hex digits)`);
    byProject.set(w.projectId, [...(byProject.get(w.projectId) ?? []), w.cluster]);
  }
  for (const [project, clusters] of byProject) {
    if (clusters.length > 1)
      problems.push(
        `project ${project} writes for ${clusters.join(" and ")}, so each could write under the other's prefix`,
      );
  }
  return problems;
}

/**
 * The one bucket policy of every append-only bucket (the audit archive and
 * the etcd backup buckets): each writer may put under its own cluster's
 * prefix and nothing else (every other put is denied explicitly), the
 * writers are explicitly denied reads, deletes and every reconfiguration,
 * and every other environment's project is denied everything
 * (environmentBucketPolicy). The reconciler sets this document and reads it
 * back; the policies judge it.
 */
export function archiveBucketPolicy(
  bucket: string,
  writers: readonly ArchiveWriter[],
  foreignProjectIds: readonly string[],
): BucketPolicyDocument {
  const problems = writerProblems(writers);
  const foreignWriters = writers.filter((w) => foreignProjectIds.includes(w.projectId));
  for (const w of foreignWriters)
    problems.push(`the writer of ${w.cluster} is another environment's project ${w.projectId}`);
  if (problems.length > 0) throw new Error(`archive writers of ${bucket}: ${problems.join("; ")}`);
  return {
    Version: "2012-10-17",
    Statement: [
      ...writers.map((w): BucketPolicyStatement => ({
        Sid: `put-${w.cluster}`,
        Effect: "Allow",
        Principal: { AWS: [projectPrincipal(w.projectId)] },
        Action: ["s3:PutObject"],
        Resource: [`arn:aws:s3:::${bucket}/${w.cluster}/*`],
      })),
      ...writers.map((w): BucketPolicyStatement => ({
        Sid: `put-elsewhere-${w.cluster}`,
        Effect: "Deny",
        Principal: { AWS: [projectPrincipal(w.projectId)] },
        Action: ["s3:PutObject"],
        NotResource: [`arn:aws:s3:::${bucket}/${w.cluster}/*`],
      })),
      {
        Sid: "writers-never-delete-or-reconfigure",
        Effect: "Deny",
        Principal: { AWS: writers.map((w) => projectPrincipal(w.projectId)) },
        Action: [...WRITER_DENIED_ACTIONS],
        Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
      },
      ...environmentBucketPolicy(bucket, foreignProjectIds).Statement,
    ],
  };
}

/**
 * The policy every bucket of an environment carries: an explicit Deny of
 * everything to every other environment's project. It grants nothing (the
 * owning project needs no grant), and an explicit Deny outranks any grant an
 * ACL or a later policy edit might add.
 */
export function environmentBucketPolicy(bucket: string, foreignProjectIds: readonly string[]): BucketPolicyDocument {
  if (foreignProjectIds.length === 0) throw new Error(`bucket ${bucket}: no other environment's project to deny`);
  return {
    Version: "2012-10-17",
    Statement: [
      {
        Sid: "DenyOtherEnvironments",
        Effect: "Deny",
        Principal: { AWS: [...new Set(foreignProjectIds)].sort().map(projectPrincipal) },
        Action: "s3:*",
        Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
      },
    ],
  };
}

const asList = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/**
 * The Keystone project a principal reaches, "*" for anyone. Read leniently,
 * so that a grant in any form counts against the environment: a named
 * tenant is a project id (implicit tenants), a user of the global tenant is
 * the project of that id, and the global tenant's `root` is every project.
 */
export function principalProject(principal: string): string {
  if (principal === "*") return "*";
  const arn = /^arn:aws:iam::([^:]*):(.*)$/.exec(principal);
  if (!arn) return principal;
  const [, tenant, rest] = arn as unknown as [string, string, string];
  if (tenant !== "") return tenant;
  if (rest === "root") return "*";
  return rest.startsWith("user/") ? rest.slice("user/".length) : "";
}

function principalsOf(statement: Partial<BucketPolicyStatement>): string[] {
  const p = statement.Principal as unknown;
  if (p === "*") return ["*"];
  if (typeof p === "object" && p !== null) return asList((p as { AWS?: string | string[] }).AWS);
  return [];
}

/**
 * What a bucket policy grants outside `ownProjectIds`: one message per
 * principal that an Allow statement reaches and that is not one of them.
 */
export function grantsOutside(document: unknown, ownProjectIds: readonly string[]): string[] {
  const statements = asList(
    (document as { Statement?: unknown } | null)?.Statement as Partial<BucketPolicyStatement>[] | undefined,
  );
  return statements
    .filter((s) => s.Effect === "Allow")
    .flatMap((s) =>
      principalsOf(s)
        .filter((principal) => !ownProjectIds.includes(principalProject(principal)))
        .map(
          (principal) =>
            `${s.Sid ? `statement ${s.Sid}` : "an Allow statement"} grants ${JSON.stringify(s.Action)} to ${principal === "*" ? "everyone (*)" : principal}, outside this environment's projects`,
        ),
    );
}

/**
 * Foreign projects that the policy does not explicitly deny everything. A
 * Deny counts only in the form RGW resolves to the project's user
 * (projectPrincipal), or for "*".
 */
export function undeniedProjects(document: unknown, bucket: string, foreignProjectIds: readonly string[]): string[] {
  const statements = asList(
    (document as { Statement?: unknown } | null)?.Statement as Partial<BucketPolicyStatement>[] | undefined,
  );
  const denies = statements.filter(
    (s) =>
      s.Effect === "Deny" &&
      s.Condition === undefined &&
      asList(s.Action).some((a) => a === "s3:*" || a === "*") &&
      [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`].every((r) => asList(s.Resource).includes(r)),
  );
  const denied = new Set(denies.flatMap((s) => principalsOf(s)));
  return foreignProjectIds.filter((id) => !denied.has(projectPrincipal(id)) && !denied.has("*"));
}

const PUBLIC_CANNED_ACLS = new Set([
  "public-read",
  "public-read-write",
  "authenticated-read",
  "aws-exec-read",
  "log-delivery-write",
]);

/** A canned ACL or grant list that reaches beyond the bucket's own project. */
export function aclProblems(acl: unknown, grants: unknown, ownProjectIds: readonly string[]): string[] {
  const problems: string[] = [];
  if (typeof acl === "string" && PUBLIC_CANNED_ACLS.has(acl))
    problems.push(`canned ACL ${acl} grants access outside the bucket's project`);
  for (const grant of asList(grants as Record<string, unknown>[] | undefined)) {
    const grantee = (grant.grantee ?? grant.Grantee ?? grant) as Record<string, unknown>;
    const id = grantee.id ?? grantee.ID ?? grantee.uri ?? grantee.URI ?? grantee.emailAddress;
    const tenant = typeof id === "string" ? id.split("$")[0]! : "";
    if (!ownProjectIds.includes(tenant))
      problems.push(`ACL grant to ${String(id)} reaches outside this environment's projects`);
  }
  return problems;
}
