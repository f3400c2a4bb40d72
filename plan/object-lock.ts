/**
 * What an append-only bucket (the audit archive, the etcd backup buckets)
 * must look like, as plain data: the spec the program hands the reconciler,
 * what RGW reads back, and the checks on both (lock, retention, expiry, the
 * bucket policy's grants and denials). Pure: the audit-trail component, the
 * policies and synth judge with these, and scripts/object-lock-bucket.ts,
 * which talks to RGW, checks what it read back with the same functions.
 *
 * Loaded by plain Node (type stripping) through
 * scripts/audit-archive-bucket.cjs at deploy time, so it imports only plan/
 * modules and uses no TypeScript syntax that needs emitting.
 */
import { WRITER_DENIED_ACTIONS, projectPrincipal, undeniedProjects, type ArchiveWriter } from "./bucket-policy";
import { displayText } from "./display-text";

export type LockMode = "COMPLIANCE" | "GOVERNANCE";

export interface ArchiveBucketSpec {
  /** e.g. `https://s3.osl2.example.net`; path-style addressing is used. */
  endpoint: string;
  bucket: string;
  /** Signing region; RGW accepts its zonegroup name. */
  region: string;
  mode: LockMode;
  days: number;
  writers: readonly ArchiveWriter[];
  /** Every other environment's projects, which the bucket policy must deny everything. */
  foreignProjectIds: readonly string[];
  /** The bucket policy (JSON) to set: archiveBucketPolicy() as the program built it and the policies judged it. */
  policy: string;
  /**
   * Objects expire this many days after they are written (a lifecycle rule);
   * never fewer than `days`. The etcd backup buckets set it, so they do not
   * grow for ever; the audit archive does not.
   */
  expireDays?: number;
}

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export interface ObjectLockState {
  enabled: boolean;
  mode?: LockMode;
  days?: number;
}

/** What the archive actually is, as read back from RGW. */
export interface ArchiveReadBack {
  bucket: string;
  objectLock: ObjectLockState;
  /** RGW user that owns the bucket: the deploy identity's project. */
  owner: string;
  /** Per principal named in the bucket policy: what it is allowed, on what. */
  grants: PrincipalActions[];
  /** Per principal: what the bucket policy explicitly denies it (unconditionally), on what. */
  denials: PrincipalActions[];
  /** The fewest days after which an enabled lifecycle rule expires objects; absent when none does. */
  expireDays?: number;
}

/** Our lifecycle rule's id, so a second run finds it. */
export const LIFECYCLE_RULE_ID = "expire-after-lock";

export interface PrincipalActions {
  principal: string;
  actions: string[];
  resources: string[];
}

const list = (value: unknown): string[] =>
  Array.isArray(value) ? value.map(String) : value === undefined ? [] : [displayText(value)];

/** The `AWS` entry of a principal map; undefined for "*" or a bare principal. */
function awsPrincipal(principal: unknown): unknown {
  return typeof principal === "object" && principal !== null ? (principal as Record<string, unknown>).AWS : undefined;
}

/** Allowed actions and resources per principal, from a policy document as RGW returns it. */
export const policyGrants = (policyJson: string | undefined): PrincipalActions[] => byPrincipal(policyJson, "Allow");

/** Unconditionally denied actions and resources per principal; a conditional Deny may not apply, so it is not counted. */
export const policyDenials = (policyJson: string | undefined): PrincipalActions[] => byPrincipal(policyJson, "Deny");

function byPrincipal(policyJson: string | undefined, effect: "Allow" | "Deny"): PrincipalActions[] {
  if (!policyJson) return [];
  const doc = JSON.parse(policyJson) as { Statement?: unknown };
  const statements = (Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement]) as Record<string, unknown>[];
  const grants = new Map<string, { actions: Set<string>; resources: Set<string> }>();
  // A Deny that is conditional or names what it does not cover (NotResource) does not deny everywhere, so it is not counted.
  for (const s of statements.filter(
    (s) =>
      s && s.Effect === effect && (effect === "Allow" || (s.Condition === undefined && s.NotResource === undefined)),
  )) {
    const principals = s.Principal === "*" ? ["*"] : list(awsPrincipal(s.Principal) ?? s.Principal);
    for (const p of principals) {
      const entry = grants.get(p) ?? { actions: new Set<string>(), resources: new Set<string>() };
      list(s.Action).forEach((a) => entry.actions.add(a));
      list(s.Resource).forEach((r) => entry.resources.add(r));
      // An Allow on everything but X reaches far beyond any prefix; kept visible so it is judged as such.
      list(s.NotResource).forEach((r) => entry.resources.add(`everything but ${r}`));
      grants.set(p, entry);
    }
  }
  return [...grants].map(([principal, g]) => ({
    principal,
    actions: [...g.actions].sort(),
    resources: [...g.resources].sort(),
  }));
}

/**
 * Everything wrong with a bucket policy's grants and denials for the spec:
 * a grant beyond put under the writer's own prefix, a writer without its
 * grant or its explicit deny, another environment's project not denied
 * everything.
 */
export function policyProblems(
  spec: Pick<ArchiveBucketSpec, "bucket" | "writers" | "foreignProjectIds">,
  grants: readonly PrincipalActions[],
  denials: readonly PrincipalActions[],
): string[] {
  const problems: string[] = [];
  const expected = new Map(spec.writers.map((w) => [projectPrincipal(w.projectId), w]));
  for (const g of grants) {
    const writer = expected.get(g.principal);
    if (!writer) {
      problems.push(`the bucket policy grants ${g.actions.join(", ")} to ${g.principal}, which is not a writer`);
      continue;
    }
    const wrongActions = g.actions.filter((a) => a !== "s3:PutObject");
    if (wrongActions.length > 0) problems.push(`the writer of ${writer.cluster} is granted ${wrongActions.join(", ")}`);
    const wrongResources = g.resources.filter((r) => r !== `arn:aws:s3:::${spec.bucket}/${writer.cluster}/*`);
    if (wrongResources.length > 0)
      problems.push(`the writer of ${writer.cluster} may write to ${wrongResources.join(", ")}`);
  }
  for (const [principal, w] of expected) {
    if (!grants.some((g) => g.principal === principal))
      problems.push(`the bucket policy does not let the writer of ${w.cluster} put objects`);
    const denied = new Set(denials.find((d) => d.principal === principal)?.actions ?? []);
    const missing = WRITER_DENIED_ACTIONS.filter((a) => !denied.has(a));
    if (missing.length > 0)
      problems.push(`the bucket policy does not deny ${missing.join(", ")} to the writer of ${w.cluster}`);
  }
  const asDocument = {
    Statement: denials.map((d) => ({
      Effect: "Deny",
      Principal: { AWS: [d.principal] },
      Action: d.actions,
      Resource: d.resources,
    })),
  };
  const undenied = undeniedProjects(asDocument, spec.bucket, spec.foreignProjectIds);
  if (undenied.length > 0)
    problems.push(`the bucket policy does not deny everything to other environments' projects ${undenied.join(", ")}`);
  return problems;
}

/**
 * Everything wrong with what was read back, for the wanted spec: the lock
 * weaker than configured, a writer that is the owner (the deploy identity),
 * or a policy that lets anyone do more than put under their own prefix, or
 * lacks a deny.
 */
export function readBackProblems(spec: ArchiveBucketSpec, readBack: ArchiveReadBack): string[] {
  const problems: string[] = [];
  const lock = readBack.objectLock;
  if (!lock.enabled) problems.push("object lock is not enabled");
  if (lock.mode !== "COMPLIANCE") problems.push(`default retention mode is ${lock.mode ?? "unset"}, not COMPLIANCE`);
  if (lock.days === undefined || lock.days < spec.days)
    problems.push(`default retention is ${lock.days ?? "unset"} days, less than ${spec.days}`);
  if (spec.expireDays !== undefined && readBack.expireDays !== spec.expireDays) {
    problems.push(`objects expire after ${readBack.expireDays ?? "no"} days, not ${spec.expireDays}`);
  }
  if (readBack.expireDays !== undefined && readBack.expireDays < spec.days) {
    problems.push(
      `a lifecycle rule expires objects after ${readBack.expireDays} days, before their ${spec.days}-day lock ends`,
    );
  }
  for (const w of spec.writers) {
    if (w.projectId === readBack.owner)
      problems.push(
        `the writer of ${w.cluster} is the bucket owner ${readBack.owner} (the deploy identity), which can delete and reconfigure`,
      );
  }
  return [...problems, ...policyProblems(spec, readBack.grants ?? [], readBack.denials ?? [])];
}
