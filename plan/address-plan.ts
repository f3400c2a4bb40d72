import { z } from "zod";
import { cidrProblem, parseCidr, overlaps, contains } from "./cidr";

export const ENVIRONMENTS = ["production", "staging", "test"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

export const cidrString = z.string().superRefine((value, ctx) => {
  const problem = cidrProblem(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

export const siteNameString = z
  .string()
  .regex(/^[a-z][a-z0-9]{1,15}$/, "a site name is lower-case letters and digits, such as osl2");

const environmentAddressesSchema = z.strictObject({
  supernet: cidrString,
  sites: z.record(siteNameString, cidrString).refine((sites) => Object.keys(sites).length > 0, {
    message: "an environment needs at least one site subnet",
  }),
});

export const addressPlanSchema = z.strictObject({
  environments: z.strictObject({
    production: environmentAddressesSchema,
    staging: environmentAddressesSchema,
    test: environmentAddressesSchema,
  }),
});

export type AddressPlan = z.infer<typeof addressPlanSchema>;

export interface AddressPlanProblem {
  path: string;
  message: string;
}

/**
 * Cross-checks that a schema cannot express: supernets never overlap, each site
 * subnet lies inside its own supernet, and no two site subnets overlap.
 */
export function addressPlanProblems(plan: AddressPlan): AddressPlanProblem[] {
  const problems: AddressPlanProblem[] = [];
  const envs = ENVIRONMENTS.map((name) => ({ name, ...plan.environments[name] }));

  envs.forEach((env, i) => {
    for (const other of envs.slice(i + 1)) {
      if (overlaps(parseCidr(env.supernet), parseCidr(other.supernet))) {
        problems.push({
          path: `environments.${other.name}.supernet`,
          message: `${other.supernet} overlaps ${env.name}'s supernet ${env.supernet}`,
        });
      }
    }
  });

  const allSubnets = envs.flatMap((env) =>
    Object.entries(env.sites).map(([site, cidr]) => ({ env: env.name, site, cidr })),
  );
  for (const env of envs) {
    for (const [site, cidr] of Object.entries(env.sites)) {
      if (!contains(parseCidr(env.supernet), parseCidr(cidr))) {
        problems.push({
          path: `environments.${env.name}.sites.${site}`,
          message: `${cidr} lies outside ${env.name}'s supernet ${env.supernet}`,
        });
      }
    }
  }
  allSubnets.forEach((a, i) => {
    for (const b of allSubnets.slice(i + 1)) {
      if (overlaps(parseCidr(a.cidr), parseCidr(b.cidr))) {
        problems.push({
          path: `environments.${b.env}.sites.${b.site}`,
          message: `${b.cidr} overlaps ${a.env}/${a.site} ${a.cidr}`,
        });
      }
    }
  });
  return problems;
}

/** Every environment's supernet except `environment`'s own. */
export function foreignSupernets(plan: AddressPlan, environment: EnvironmentName): string[] {
  return ENVIRONMENTS.filter((name) => name !== environment).map((name) => plan.environments[name].supernet);
}
