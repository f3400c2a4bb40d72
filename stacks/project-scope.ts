/**
 * The run-time half of project separation: before anything else is
 * registered, each site's provider asks Keystone which project its
 * credentials are scoped to, and the stack stops unless that is the project
 * openstack-projects.yaml declares for this environment and site. So a
 * staging run with production's credentials (or the reverse) fails before it
 * can read or change anything of the other environment.
 *
 * The providers themselves are registered first: the question has to go
 * through the very provider (region, clouds.yaml entry, OS_* variables) the
 * resources would use, and a provider resource makes no call to the cloud.
 */
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import type { PlatformPlan } from "../plan/platform-plan";
import { scopeProblem, type AuthScope, type ProjectPlan } from "../plan/project-plan";
import { siteProvider } from "./sites";

export const AUTH_SCOPE_TOKEN = "openstack:identity/getAuthScope:getAuthScope";

/** The data source's `name` (a label only); the synth's fake answer finds the site by it. */
export const scopeCheckName = (environment: string, site: string) => `${environment}-${site}-project-scope`;

export class ProjectScopeError extends Error {
  constructor(
    readonly environment: string,
    readonly problems: string[],
  ) {
    super(
      `Refusing to deploy ${environment}: the OpenStack credentials are not those of ${environment}'s declared project.\n` +
        problems.map((p) => `  - ${p}`).join("\n") +
        `\nRun with the credentials (OS_* or the site's clouds.yaml entry) of the project declared for ${environment}. Nothing but the site providers was registered, and nothing was created in the cloud.`,
    );
    this.name = "ProjectScopeError";
  }
}

type SiteVerdict = { site: string; problem?: string; unchecked?: string };

/**
 * Checks every site's scope and returns the checked providers by site name.
 * On `up`, a Keystone that cannot be asked is a refusal too. Only a preview
 * without usable credentials goes on unchecked, with a warning: a preview
 * changes nothing, and an offline preview is how the program is reviewed.
 */
export async function checkProjectScopes(args: {
  plan: PlatformPlan;
  projects: ProjectPlan;
  projectsFile: string;
  dryRun: boolean;
  /** Where a preview's "not checked" goes; the engine's log unless a test listens. */
  warn?: (message: string) => void;
}): Promise<Map<string, openstack.Provider>> {
  const warn = args.warn ?? ((message: string) => void pulumi.log.warn(message));
  const env = args.plan.environment;
  const providers = new Map(args.plan.sites.map((site) => [site.name, siteProvider(site)] as const));

  const verdicts = await Promise.all(
    args.plan.sites.map(async (site): Promise<SiteVerdict> => {
      let scope: AuthScope;
      try {
        const answer = await openstack.identity.getAuthScope(
          { name: scopeCheckName(env, site.name), region: site.config.region },
          { provider: providers.get(site.name)! },
        );
        scope = {
          projectId: answer.projectId,
          projectName: answer.projectName,
          projectDomainName: answer.projectDomainName,
          userName: answer.userName,
        };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (args.dryRun) return { site: site.name, unchecked: reason };
        return {
          site: site.name,
          problem: `${env}/${site.name}: Keystone could not be asked which project the credentials are scoped to (${reason}); nothing is deployed unchecked`,
        };
      }
      const problem = scopeProblem(args.projects, env, site.name, scope, args.projectsFile);
      return problem ? { site: site.name, problem } : { site: site.name };
    }),
  );

  const problems = verdicts.flatMap((v) => (v.problem ? [v.problem] : []));
  if (problems.length > 0) throw new ProjectScopeError(env, problems);
  for (const v of verdicts) {
    if (v.unchecked !== undefined) {
      warn(
        `${env}/${v.site}: project scope NOT checked in this preview, Keystone did not answer (${v.unchecked}). \`pulumi up\` refuses to run until it does.`,
      );
    }
  }
  return providers;
}
