/**
 * Bucket policies that keep object storage inside its environment, and the
 * reading of any bucket policy or ACL that the policy pack judges. Pure.
 *
 * Principals are written the way Ceph RGW reads them when it authenticates
 * through Keystone with implicit tenants: the RGW tenant of a Keystone user
 * is the id of the project its credential belongs to, and
 * `arn:aws:iam::<project id>:root` names every user of that project
 * (`arn:aws:iam::<project id>:user/<name>` names one).
 */

export interface BucketPolicyStatement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal: "*" | { AWS: string | string[] };
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, unknown>;
}

export interface BucketPolicyDocument {
  Version: "2012-10-17";
  Statement: BucketPolicyStatement[];
}

export const projectPrincipal = (projectId: string) => `arn:aws:iam::${projectId}:root`;

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
    Statement: [{
      Sid: "DenyOtherEnvironments",
      Effect: "Deny",
      Principal: { AWS: [...new Set(foreignProjectIds)].sort().map(projectPrincipal) },
      Action: "s3:*",
      Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`],
    }],
  };
}

const asList = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** The RGW tenant a principal names: a project id, "" for the tenant-less namespace, "*" for anyone. */
export function principalTenant(principal: string): string {
  if (principal === "*") return "*";
  const arn = /^arn:aws:iam::([^:]*):/.exec(principal);
  // A bare user name in RGW is a user of the tenant-less namespace.
  return arn ? arn[1]! : "";
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
  const statements = asList((document as { Statement?: unknown } | null)?.Statement as Partial<BucketPolicyStatement>[] | undefined);
  return statements.filter((s) => s.Effect === "Allow").flatMap((s) =>
    principalsOf(s).filter((principal) => !ownProjectIds.includes(principalTenant(principal))).map((principal) =>
      `${s.Sid ? `statement ${s.Sid}` : "an Allow statement"} grants ${JSON.stringify(s.Action)} to ${principal === "*" ? "everyone (*)" : principal}, outside this environment's projects`));
}

/** Foreign projects that the policy does not explicitly deny everything. */
export function undeniedProjects(document: unknown, bucket: string, foreignProjectIds: readonly string[]): string[] {
  const statements = asList((document as { Statement?: unknown } | null)?.Statement as Partial<BucketPolicyStatement>[] | undefined);
  const denies = statements.filter((s) =>
    s.Effect === "Deny" && s.Condition === undefined &&
    asList(s.Action).some((a) => a === "s3:*" || a === "*") &&
    [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`].every((r) => asList(s.Resource).includes(r)));
  const denied = new Set(denies.flatMap((s) => principalsOf(s).map(principalTenant)));
  return foreignProjectIds.filter((id) => !denied.has(id) && !denied.has("*"));
}

const PUBLIC_CANNED_ACLS = new Set(["public-read", "public-read-write", "authenticated-read", "aws-exec-read", "log-delivery-write"]);

/** A canned ACL or grant list that reaches beyond the bucket's own project. */
export function aclProblems(acl: unknown, grants: unknown, ownProjectIds: readonly string[]): string[] {
  const problems: string[] = [];
  if (typeof acl === "string" && PUBLIC_CANNED_ACLS.has(acl)) problems.push(`canned ACL ${acl} grants access outside the bucket's project`);
  for (const grant of asList(grants as Record<string, unknown>[] | undefined)) {
    const grantee = (grant.grantee ?? grant.Grantee ?? grant) as Record<string, unknown>;
    const id = grantee.id ?? grantee.ID ?? grantee.uri ?? grantee.URI ?? grantee.emailAddress;
    const tenant = typeof id === "string" ? id.split("$")[0]! : "";
    if (!ownProjectIds.includes(tenant)) problems.push(`ACL grant to ${String(id)} reaches outside this environment's projects`);
  }
  return problems;
}
