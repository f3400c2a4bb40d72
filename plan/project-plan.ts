/**
 * The OpenStack project of every environment in every site, as committed in
 * openstack-projects.yaml. Pure: the schema, the cross-checks a schema cannot
 * express, and the comparison of what Keystone says with what is declared.
 *
 * A project is identified by its Keystone id. Ids are what Keystone puts in
 * a token's scope and what every resource records as its owner; they are
 * unique across domains and never reused, whereas a name is unique only
 * within its domain and survives a delete and re-create that yields a
 * different project. Name and domain are declared beside the id for the
 * people reading the file and the compliance report, and are checked too:
 * a project renamed in Keystone must be renamed here, so the report never
 * shows a stale name next to a correct id.
 */
import { z } from "zod";
import { ENVIRONMENTS, siteNameString, type EnvironmentName } from "./address-plan";

/** Keystone's project ids: a UUID4 in hex without dashes. */
export const keystoneProjectId = z.string().regex(/^[0-9a-f]{32}$/, {
  message:
    "expected a Keystone project id: 32 lower-case hex digits, as `openstack project show -f value -c id <name>` prints it",
});

export const declaredProjectSchema = z.strictObject({
  id: keystoneProjectId,
  /** Keystone limits project names to 64 characters. */
  name: z.string().min(1).max(64),
  /** Name of the project's domain, e.g. `Default`. */
  domain: z.string().min(1).max(64),
});

const environmentProjectsSchema = z
  .record(siteNameString, declaredProjectSchema)
  .refine((sites) => Object.keys(sites).length > 0, {
    message: "an environment needs the project of at least one site",
  });

export const projectPlanSchema = z.strictObject({
  environments: z.strictObject({
    production: environmentProjectsSchema,
    staging: environmentProjectsSchema,
    test: environmentProjectsSchema,
  }),
});

export type ProjectPlan = z.infer<typeof projectPlanSchema>;
export type DeclaredProject = z.infer<typeof declaredProjectSchema>;

export interface ProjectPlanProblem {
  path: string;
  message: string;
}

interface Placed {
  environment: EnvironmentName;
  site: string;
  project: DeclaredProject;
}

/** Every declared project with where it is declared, in file order. */
export function placedProjects(plan: ProjectPlan): Placed[] {
  return ENVIRONMENTS.flatMap((environment) =>
    Object.entries(plan.environments[environment]).map(([site, project]) => ({ environment, site, project })),
  );
}

/**
 * A project serves one environment. The same id in two environments is
 * refused wherever it appears; the same name in the same domain of the same
 * site is the same Keystone project, so that is refused too. Two sites of one
 * environment may share a project (sites that share a Keystone).
 */
export function projectPlanProblems(plan: ProjectPlan): ProjectPlanProblem[] {
  const problems: ProjectPlanProblem[] = [];
  const placed = placedProjects(plan);
  placed.forEach((a, i) => {
    for (const b of placed.slice(i + 1)) {
      if (a.environment === b.environment) continue;
      if (a.project.id === b.project.id) {
        problems.push({
          path: `environments.${b.environment}.${b.site}.id`,
          message: `${b.project.id} is also ${a.environment}/${a.site}'s project: a project belongs to one environment only`,
        });
      } else if (a.site === b.site && a.project.name === b.project.name && a.project.domain === b.project.domain) {
        problems.push({
          path: `environments.${b.environment}.${b.site}.name`,
          message: `"${b.project.name}" in domain ${b.project.domain} is also ${a.environment}/${a.site}'s project: one Keystone name in one domain is one project`,
        });
      }
    }
  });
  return problems;
}

export function declaredProject(
  plan: ProjectPlan,
  environment: EnvironmentName,
  site: string,
): DeclaredProject | undefined {
  return plan.environments[environment][site];
}

/** Projects of every environment except `environment`, deduplicated by id. */
export function foreignProjects(plan: ProjectPlan, environment: EnvironmentName): Placed[] {
  const seen = new Set<string>();
  return placedProjects(plan).filter((p) => {
    if (p.environment === environment || seen.has(p.project.id)) return false;
    seen.add(p.project.id);
    return true;
  });
}

export const describeProject = (p: DeclaredProject) => `"${p.name}" (id ${p.id}, domain ${p.domain})`;

/** What Keystone says a token is scoped to: the fields of getAuthScope the check reads. */
export interface AuthScope {
  projectId: string;
  projectName: string;
  projectDomainName: string;
  userName?: string;
}

/**
 * Why credentials scoped to `scope` must not deploy `environment`/`site`, or
 * undefined when the scope is exactly the declared project.
 */
export function scopeProblem(
  plan: ProjectPlan,
  environment: EnvironmentName,
  site: string,
  scope: AuthScope,
  file = "openstack-projects.yaml",
): string | undefined {
  const declared = declaredProject(plan, environment, site);
  const scoped = `"${scope.projectName}" (id ${scope.projectId || "none"}, domain ${scope.projectDomainName || "none"})`;
  const user = scope.userName ? ` of user "${scope.userName}"` : "";
  if (!declared)
    return `${file} declares no project for ${environment}/${site}; the credentials${user} are scoped to ${scoped}`;
  if (scope.projectId !== declared.id) {
    const owner = placedProjects(plan).find((p) => p.project.id === scope.projectId && p.environment !== environment);
    return (
      `the OpenStack credentials${user} for ${environment}/${site} are scoped to project ${scoped}` +
      `${owner ? `, which is ${owner.environment}'s project in ${owner.site}` : ""}, but ${file} declares ${describeProject(declared)} for ${environment}/${site}`
    );
  }
  if (scope.projectName !== declared.name || scope.projectDomainName !== declared.domain) {
    return `project ${declared.id} is ${scoped} in Keystone, but ${file} names it ${describeProject(declared)} for ${environment}/${site}; correct the file`;
  }
  return undefined;
}
