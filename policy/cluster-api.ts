/**
 * Cluster API's OpenStack identity (issue 13): the credential a management
 * cluster creates workload machines with acts only in its own environment's
 * project of its site, with the least roles, and never unrestricted.
 */
import { CAPI_CREDENTIAL_ROLES } from "../plan/cluster-api";
import { foreignProjects } from "../plan/project-plan";
import { isOpaque, resourceId, typeChain, type PolicyResource, type StackPolicy, type Violation } from "./model";

export const CAPI_IDENTITY_TYPE = "ske:capi:ClusterApiIdentity";
const CREDENTIAL_TYPE = "openstack:identity/applicationCredential:ApplicationCredential";

const under = (r: PolicyResource, type: string) => typeChain(r).includes(type);

export const clusterApiCredentialOwnProject: StackPolicy = {
  kind: "stack",
  name: "cluster-api-credential-own-project",
  control: "6.1",
  enforcement: "mandatory",
  description:
    "Each management cluster's Cluster API credential names its environment's own project of its site (openstack-projects.yaml), never another environment's; it holds only the roles creating workload clusters needs, is restricted (cannot make credentials or trusts) and carries access rules. In production and staging every management cluster has one.",
  remediation:
    "Set sites.<site>.clusterApi.projectId to the environment's own project of that site; keep the credential's roles at plan/cluster-api.ts CAPI_CREDENTIAL_ROLES, unrestricted false, with access rules.",
  validate: ({ resources }, ctx) => {
    const violations: Violation[] = [];
    const foreign = foreignProjects(ctx.projects, ctx.environment);
    const own = ctx.projects.environments[ctx.environment];
    for (const r of resources) {
      if (r.type === CREDENTIAL_TYPE) {
        const roles = r.props.roles;
        if (!Array.isArray(roles) || roles.length === 0) {
          violations.push({
            resource: resourceId(r),
            message: `${r.name} names no roles, so it inherits every role of the deploy identity`,
          });
        } else {
          const extra = roles.filter((role) => !CAPI_CREDENTIAL_ROLES.includes(String(role)));
          if (extra.length > 0)
            violations.push({
              resource: resourceId(r),
              message: `${r.name} holds roles beyond ${CAPI_CREDENTIAL_ROLES.join(", ")}: ${extra.join(", ")}`,
            });
        }
        if (r.props.unrestricted !== false)
          violations.push({
            resource: resourceId(r),
            message: `${r.name} is not explicitly restricted: it could create further credentials or trusts`,
          });
        const rules = r.props.accessRules;
        if (!Array.isArray(rules) || rules.length === 0)
          violations.push({
            resource: resourceId(r),
            message: `${r.name} has no access rules: its token would reach every API of the project`,
          });
      }
      if (r.type === "kubernetes:core/v1:Secret" && under(r, CAPI_IDENTITY_TYPE)) {
        const metadata = (r.props.metadata ?? {}) as {
          labels?: Record<string, unknown>;
          annotations?: Record<string, unknown>;
        };
        const projectId = metadata.annotations?.["ske-platform/openstack-project-id"];
        const site = metadata.labels?.["site"];
        if (isOpaque(projectId) || typeof projectId !== "string" || typeof site !== "string") {
          violations.push({
            resource: resourceId(r),
            message: `${r.name} does not say (in plain metadata) which site and project its credential acts in`,
          });
          continue;
        }
        const owner = foreign.find((p) => p.project.id === projectId);
        if (owner) {
          violations.push({
            resource: resourceId(r),
            message: `${r.name}: a ${ctx.environment} Cluster API credential acts in ${owner.environment}'s project ${owner.project.name} (${projectId})`,
          });
        } else if (own[site]?.id !== projectId) {
          violations.push({
            resource: resourceId(r),
            message: `${r.name}: project ${projectId} is not ${ctx.environment}/${site}'s declared project ${own[site]?.id ?? "(none declared)"}`,
          });
        }
      }
    }
    const identities = resources.filter((r) => r.type === CAPI_IDENTITY_TYPE).length;
    // Production and staging create workload clusters: a management cluster there without an identity is a site left half-built.
    const management = resources.filter((r) => {
      const labels = (r.props.metadata as { labels?: Record<string, unknown> } | undefined)?.labels;
      return (
        r.type === "kubernetes:core/v1:Secret" &&
        labels?.["argocd.argoproj.io/secret-type"] === "cluster" &&
        labels["role"] === "management"
      );
    }).length;
    if ((ctx.environment === "production" || ctx.environment === "staging") && identities < management) {
      violations.push({
        message: `${management} management clusters but ${identities} Cluster API identities: every ${ctx.environment} site needs sites.<site>.clusterApi`,
      });
    }
    const credentials = resources.filter((r) => r.type === CREDENTIAL_TYPE && under(r, CAPI_IDENTITY_TYPE)).length;
    const secrets = resources.filter(
      (r) => r.type === "kubernetes:core/v1:Secret" && under(r, CAPI_IDENTITY_TYPE),
    ).length;
    if (credentials !== identities || secrets !== identities) {
      violations.push({
        message: `${identities} Cluster API identities but ${credentials} credentials and ${secrets} identity Secrets: each identity needs exactly one of each`,
      });
    }
    return violations;
  },
};

export const CLUSTER_API_POLICIES = [clusterApiCredentialOwnProject] as const;
