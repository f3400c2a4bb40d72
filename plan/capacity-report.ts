/**
 * The pre-flight verdict and the capacity requirements as text: the refusal
 * an operator reads, and synth's capacity.md. Pure, like plan/capacity.ts.
 */
import type { SiteRequirements } from "./capacity";

/** The one refusal: every problem, grouped by site. */
export function preflightMessage(
  environment: string,
  problems: ReadonlyArray<{ site: string; region: string; project: string; problems: string[] }>,
): string {
  const total = problems.reduce((n, p) => n + p.problems.length, 0);
  const lines = [
    `Refusing to deploy ${environment}: pre-flight found ${total} problem${total === 1 ? "" : "s"}; the cloud cannot take this plan.`,
  ];
  for (const site of problems) {
    if (site.problems.length === 0) continue;
    lines.push(`  ${site.site} (region ${site.region}, project ${site.project}):`);
    for (const p of site.problems) lines.push(`    - ${p}`);
  }
  lines.push("Fix the config keys named above or raise the project's quota; no resource was registered.");
  return lines.join("\n");
}

/** Requirements as a Markdown section (synth's capacity.md and its summary). */
export function renderRequirements(environment: string, reqs: readonly SiteRequirements[], preflight: string): string {
  const lines: string[] = [`# Capacity: ${environment}`, "", preflight, ""];
  lines.push(
    "| site | region | instances | ports | security groups | rules | server groups | floating IPs | networks | subnets | routers |",
  );
  lines.push("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
  for (const r of reqs) {
    const c = r.counts;
    lines.push(
      `| ${r.site} | ${r.region} | ${c.instances} | ${c.ports} | ${c.securityGroups} | ${c.securityGroupRules} | ${c.serverGroups} | ${c.floatingIps} | ${c.networks} | ${c.subnets} | ${c.routers} |`,
    );
  }
  for (const r of reqs) {
    lines.push("", `## ${r.site} (region ${r.region})`, "");
    if (r.flavors.length === 0) {
      lines.push("No instances (the clusters layer is off).");
    } else {
      lines.push(
        "vCPU and RAM are the flavors' sizes times these counts; the sizes are the cloud's, looked up by pre-flight.",
        "",
      );
      lines.push("| flavor | instances | config keys |", "| --- | ---: | --- |");
      for (const f of r.flavors) lines.push(`| ${f.flavor} | ${f.instances} | ${f.keys.join(", ")} |`);
      lines.push("", "| server group | members | from |", "| --- | ---: | --- |");
      for (const g of r.serverGroups)
        lines.push(`| ${g.name} | ${g.members} | ${g.key ?? "the HAProxy pair, always 2"} |`);
      lines.push("", `Images: ${r.images.map((i) => `${i.imageId} (${i.keys.join(", ")})`).join("; ")}.`);
    }
    lines.push(
      `Availability zones: ${r.availabilityZones.join(", ") || "none needed"}. External network: ${r.externalNetworkId}.`,
    );
  }
  return `${lines.join("\n")}\n`;
}
