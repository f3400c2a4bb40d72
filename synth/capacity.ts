/**
 * Synth's capacity report (`<out>/<env>/capacity.md` and a block of the
 * summary): what each site's plan needs, from the plan alone, so capacity
 * planning needs no cloud access.
 */
import type { LoadedConfig } from "../config/load";
import { renderRequirements, siteRequirements, type SiteRequirements } from "../plan/capacity";
import { buildPlatformPlan } from "../plan/platform-plan";

export function requirementsOf(loaded: LoadedConfig): SiteRequirements[] {
  return siteRequirements({
    plan: buildPlatformPlan(loaded.config, loaded.addressPlan),
    clustersLayer: loaded.config.layers.clusters,
    runners: loaded.config.runners,
  });
}

export function capacityReport(loaded: LoadedConfig, cloudGiven: boolean): { markdown: string; summary: string } {
  const reqs = requirementsOf(loaded);
  const preflight = cloudGiven
    ? "Pre-flight: the lookups ran against the cloud this run was given, and passed."
    : "Pre-flight: lookups skipped (offline synth, no cloud to ask). `pulumi preview` and `pulumi up` run them per site before registering anything: " +
      "flavors (with vCPU and RAM), images active in the region, the external network, the availability zones, and the project's quotas against these counts.";
  const lines = ["Capacity per site (what the plan adds to each site's project):"];
  for (const r of reqs) {
    const c = r.counts;
    const flavors = r.flavors.map((f) => `${f.instances}× ${f.flavor}`).join(", ");
    lines.push(
      `  ${r.site} (region ${r.region}): ${c.instances} instances${flavors ? ` (${flavors})` : ""}, ${c.ports} ports, ` +
        `${c.securityGroups} security groups, ${c.securityGroupRules} rules, ${c.serverGroups} server groups, ${c.floatingIps} floating IPs`,
    );
  }
  lines.push(
    "  vCPU and RAM: the flavors' sizes times these counts; sizes are the cloud's, so only pre-flight states them.",
  );
  lines.push(`  ${preflight}`);
  return { markdown: renderRequirements(loaded.config.environment, reqs, preflight), summary: lines.join("\n") };
}
