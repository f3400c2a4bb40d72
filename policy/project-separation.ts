/**
 * Project and credential separation between environments (issue 18): the
 * project plan shares no project, nothing the stack registers names another
 * environment's project, and no bucket grants anything outside its own
 * environment. The run-time half (which project the credentials are scoped
 * to) is stacks/project-scope.ts; these policies judge what is declared.
 */
import { aclProblems, grantsOutside, undeniedProjects } from "../plan/bucket-policy";
import { foreignProjects, placedProjects, projectPlanProblems } from "../plan/project-plan";
import {
  OPAQUE,
  isOpaque,
  resourceId,
  type PolicyContext,
  type PolicyResource,
  type StackPolicy,
  type Violation,
} from "./model";
import { displayText } from "../plan/display-text";

/** The environment's declared projects, and its archive writers, each a project of its own (docs/decisions/audit-archive-identity.md). */
export const ownProjectIds = (ctx: PolicyContext) => [
  ...Object.values(ctx.projects.environments[ctx.environment]).map((p) => p.id),
  ...(ctx.archiveWriterProjects ?? []),
];

/** Inputs that name an OpenStack project, on any openstack resource or provider. */
const PROJECT_INPUTS = ["projectId", "tenantId", "defaultProjectId", "targetTenant", "targetProjectId"] as const;

export const projectsSeparated: StackPolicy = {
  kind: "stack",
  name: "openstack-projects-separated",
  control: "6.1",
  enforcement: "mandatory",
  description:
    "Every environment has its own OpenStack project per site (openstack-projects.yaml shares none), and no provider or resource of this stack names another environment's project, so identities such as the archive's S3 credential live in the environment's own project.",
  remediation:
    "Give each environment its own project in openstack-projects.yaml; create identities and resources through the site's provider without naming another environment's project or tenant.",
  validate: ({ resources }, ctx) => {
    const violations: Violation[] = projectPlanProblems(ctx.projects).map((p) => ({
      message: `openstack-projects.yaml ${p.path}: ${p.message}`,
    }));
    const foreign = foreignProjects(ctx.projects, ctx.environment);
    const foreignNames = new Set(foreign.map((p) => p.project.name));
    for (const r of resources) {
      if (!r.type.startsWith("openstack:") && r.type !== "pulumi:providers:openstack") continue;
      for (const input of PROJECT_INPUTS) {
        const value = r.props[input];
        // Unknown, and not set by the program: the provider fills it with the
        // project its credentials are scoped to, which stacks/project-scope.ts
        // checks against the project plan before anything is created.
        if (isOpaque(value) && r.computed?.includes(input)) continue;
        if (isOpaque(value)) {
          violations.push({
            resource: resourceId(r),
            message: `${r.name}.${input} is not known at preview, so its project cannot be checked`,
          });
          continue;
        }
        const owner = foreign.find((p) => p.project.id === value);
        if (owner)
          violations.push({
            resource: resourceId(r),
            message: `${r.name}.${input} names ${owner.environment}'s project ${owner.project.name} (${owner.project.id})`,
          });
      }
      const tenantName = r.props.tenantName;
      if (r.type === "pulumi:providers:openstack" && typeof tenantName === "string" && foreignNames.has(tenantName)) {
        violations.push({
          resource: resourceId(r),
          message: `provider ${r.name} is scoped by name to another environment's project ${tenantName}`,
        });
      }
    }
    return violations;
  },
};

interface Bucket {
  resource: PolicyResource;
  bucket: string;
  /** Parsed document, undefined when the bucket carries none, OPAQUE when unreadable. */
  policy: unknown;
  acl: unknown;
  grants: unknown;
}

function parsePolicy(value: unknown): unknown {
  if (value === undefined || value === null || value === "") return undefined;
  if (isOpaque(value)) return OPAQUE;
  if (typeof value !== "string") return value;
  try {
    return JSON.parse(value);
  } catch {
    return { unparsable: value };
  }
}

/** Every bucket the stack makes or configures: the archive's reconcile command and any S3 bucket resource. */
export function bucketsOf(resources: readonly PolicyResource[]): Bucket[] {
  const buckets: Bucket[] = [];
  for (const r of resources) {
    const env = r.props.environment as Record<string, unknown> | undefined;
    if (r.type === "command:local:Command" && env && typeof env === "object" && "ARCHIVE_BUCKET" in env) {
      buckets.push({
        resource: r,
        bucket: String(env.ARCHIVE_BUCKET),
        policy: parsePolicy(env.ARCHIVE_BUCKET_POLICY),
        acl: env.ARCHIVE_BUCKET_ACL,
        grants: undefined,
      });
    } else if (/:s3\/bucketPolicy:BucketPolicy$/.test(r.type)) {
      buckets.push({
        resource: r,
        bucket: String(r.props.bucket),
        policy: parsePolicy(r.props.policy),
        acl: undefined,
        grants: undefined,
      });
    } else if (/:s3\/bucket(V2)?:Bucket(V2)?$/.test(r.type) || /:s3\/bucketAcl(V2)?:BucketAcl(V2)?$/.test(r.type)) {
      const grants = (r.props.accessControlPolicy as { grants?: unknown } | undefined)?.grants ?? r.props.grants;
      buckets.push({
        resource: r,
        bucket: displayText(r.props.bucket ?? r.props.name ?? r.name),
        policy: parsePolicy(r.props.policy),
        acl: r.props.acl,
        grants,
      });
    }
  }
  return buckets;
}

export const objectStorageInEnvironment: StackPolicy = {
  kind: "stack",
  name: "object-storage-in-environment",
  control: "6.3/6.4",
  enforcement: "mandatory",
  description:
    "Every bucket (the audit archive, backups) carries a bucket policy that explicitly denies every other environment's project, and no bucket policy or ACL grants anything to a project or user outside the environment.",
  remediation:
    "Give the bucket environmentBucketPolicy() from plan/bucket-policy.ts (the audit archive: archiveBucketPolicy(), which includes it and which AuditArchiveBucket hands its reconciler), and remove grants and public ACLs that reach beyond the environment's own projects.",
  validate: ({ resources }, ctx) => {
    const own = ownProjectIds(ctx);
    const foreignIds = foreignProjects(ctx.projects, ctx.environment).map((p) => p.project.id);
    const name = (id: string) => placedProjects(ctx.projects).find((p) => p.project.id === id);
    return bucketsOf(resources).flatMap((b): Violation[] => {
      const at = (message: string) => ({ resource: resourceId(b.resource), message: `bucket ${b.bucket}: ${message}` });
      const found: Violation[] = aclProblems(b.acl, b.grants, own).map(at);
      if (b.policy === OPAQUE)
        return [...found, at("its bucket policy is not known at preview, so what it grants cannot be checked")];
      if (b.policy === undefined)
        return [
          ...found,
          at(`carries no bucket policy; it must deny ${foreignIds.length} other environments' projects`),
        ];
      found.push(...grantsOutside(b.policy, own).map(at));
      const undenied = undeniedProjects(b.policy, b.bucket, foreignIds);
      if (undenied.length > 0) {
        found.push(
          at(
            `its policy does not deny everything to ${undenied.map((id) => `${name(id)?.environment ?? "?"}'s project ${name(id)?.project.name ?? ""} (${id})`).join(", ")}`,
          ),
        );
      }
      return found;
    });
  },
};

export const PROJECT_SEPARATION_POLICIES = [projectsSeparated, objectStorageInEnvironment] as const;
