/**
 * `sites.<site>.clusterApi`: the project a site's workload clusters live in,
 * and the generation of the application credential Cluster API uses there.
 * The schema is here so config/schema.ts gains one line; the check against
 * openstack-projects.yaml runs where the other project checks run.
 */
import { z } from "zod";
import { keystoneProjectId, foreignProjects, type ProjectPlan } from "../plan/project-plan";
import type { ConfigProblem, RawStackConfig } from "./load";
import { CONFIG_NAMESPACE } from "./namespace";
import type { PlatformConfig } from "./schema";

export const clusterApiSiteSchema = z.strictObject({
  /** Keystone id of the project workload clusters are created in: the environment's own project of this site. */
  projectId: keystoneProjectId,
  /** Keystone's public v3 endpoint, as the management cluster reaches it. */
  authUrl: z
    .string()
    .url()
    .refine((u) => u.startsWith("https://"), { message: "Keystone must be reached over https://" }),
  /** Raise by one to rotate the credential (docs/operations/cluster-api.md). */
  credentialGeneration: z.number().int().min(1),
  /** RFC 3339 expiry of the credential; absent, it lives until the next generation. */
  credentialExpiresAt: z.string().datetime({ offset: true }).optional(),
});

/**
 * The credential is created through the site's provider, whose scope the
 * run checks against openstack-projects.yaml, so Keystone puts it in that
 * project. The config must name that same project: never another
 * environment's, never a project the file does not declare for this site.
 */
export function clusterApiProjectProblems(
  config: PlatformConfig,
  raw: RawStackConfig,
  plan: ProjectPlan,
  projectsFile = "openstack-projects.yaml",
): ConfigProblem[] {
  const env = config.environment;
  const problems: ConfigProblem[] = [];
  for (const [site, settings] of Object.entries(config.sites)) {
    const capi = (settings as { clusterApi?: z.infer<typeof clusterApiSiteSchema> }).clusterApi;
    if (!capi) continue;
    const key = `${CONFIG_NAMESPACE}:sites.${site}.clusterApi.projectId`;
    const foreign = foreignProjects(plan, env).find((p) => p.project.id === capi.projectId);
    if (foreign) {
      problems.push({
        file: raw.file,
        key,
        message: `${capi.projectId} is ${foreign.environment}/${foreign.site}'s project "${foreign.project.name}" in ${projectsFile}: a ${env} management cluster's Cluster API credential may act only in ${env}'s own project`,
      });
      continue;
    }
    const own = plan.environments[env][site];
    if (own && own.id !== capi.projectId) {
      problems.push({
        file: raw.file,
        key,
        message: `${capi.projectId} is not ${env}/${site}'s project; ${projectsFile} declares ${own.id} ("${own.name}"), the project the site's credentials are scoped to and the only one its Cluster API credential can be made in`,
      });
    }
  }
  return problems;
}
