/**
 * What each deploy runner can open a connection to, read back from the
 * registered ports and rules (not from the plan): every ingress rule that
 * admits one of the runner port's groups, or a CIDR holding its address.
 */
import { cidrContains, cidrOverlaps } from "../plan/cidr";
import type { RecordedResource } from "./mock-runtime";
import { siteOf } from "./resource-site";
import { displayText } from "../plan/display-text";

export interface RunnerReachRow {
  runner: string;
  address: string;
  site: string;
  group: string;
  via: string;
  ports: string;
}

const PORT = "openstack:networking/port:Port";
const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const GROUP = "openstack:networking/secGroup:SecGroup";

export interface RecordedRunner {
  name: string;
  site: string;
  address: string;
  /** Names of the security groups its port carries. */
  groups: string[];
}

export function recordedRunners(
  resources: readonly RecordedResource[],
  environment: string,
  sites: readonly string[],
): RecordedRunner[] {
  const groupNames = new Map(resources.filter((r) => r.type === GROUP).map((r) => [`${r.name}_id`, r.name]));
  return resources
    .filter((r) => r.type === PORT && ((r.inputs.tags as string[] | undefined) ?? []).includes("role:deploy-runner"))
    .map((port) => ({
      name: port.name,
      site: siteOf(port.name, environment, sites),
      address: String((port.inputs.fixedIps as { ipAddress?: string }[] | undefined)?.[0]?.ipAddress),
      groups: ((port.inputs.securityGroupIds as string[] | undefined) ?? []).map((id) => groupNames.get(id) ?? id),
    }));
}

export function deployRunnerReach(
  resources: readonly RecordedResource[],
  environment: string,
  sites: readonly string[],
): RunnerReachRow[] {
  const groupNames = new Map(resources.filter((r) => r.type === GROUP).map((r) => [`${r.name}_id`, r.name]));
  const rows: RunnerReachRow[] = [];
  for (const runner of recordedRunners(resources, environment, sites)) {
    const byKey = new Map<string, RunnerReachRow>();
    for (const rule of resources) {
      if (rule.type !== RULE || rule.inputs.direction !== "ingress") continue;
      const target = groupNames.get(rule.inputs.securityGroupId as string) ?? String(rule.inputs.securityGroupId);
      const remoteGroup = rule.inputs.remoteGroupId ? groupNames.get(rule.inputs.remoteGroupId as string) : undefined;
      const prefix = rule.inputs.remoteIpPrefix as string | undefined;
      const via =
        remoteGroup && runner.groups.includes(remoteGroup)
          ? `group ${remoteGroup.replace(`${environment}-${runner.site}-`, "")}`
          : prefix && cidrContains(prefix, `${runner.address}/32`)
            ? prefix
            : undefined;
      if (!via) continue;
      const site = siteOf(target, environment, sites);
      const group = target.replace(`${environment}-${site}-`, "");
      const min = rule.inputs.portRangeMin as number | undefined;
      const port = `${displayText(rule.inputs.protocol ?? "any")}${min === undefined ? "" : `/${min === rule.inputs.portRangeMax ? min : `${min}-${displayText(rule.inputs.portRangeMax)}`}`}`;
      const key = `${site}|${group}|${via}`;
      const row = byKey.get(key) ?? { runner: runner.name, address: runner.address, site, group, via, ports: "" };
      row.ports = row.ports ? `${row.ports} ${port}` : port;
      byKey.set(key, row);
    }
    rows.push(
      ...[...byKey.values()].sort(
        (a, b) => a.site.localeCompare(b.site) || a.group.localeCompare(b.group) || a.via.localeCompare(b.via),
      ),
    );
  }
  return rows;
}

/** Egress destinations of a runner's groups that overlap any of `foreignSupernets` (should be none). */
export function runnerForeignEgress(
  resources: readonly RecordedResource[],
  environment: string,
  sites: readonly string[],
  foreignSupernets: readonly string[],
): string[] {
  const groupNames = new Map(resources.filter((r) => r.type === GROUP).map((r) => [`${r.name}_id`, r.name]));
  const runnerGroups = new Set(recordedRunners(resources, environment, sites).flatMap((r) => r.groups));
  return resources
    .filter(
      (r) =>
        r.type === RULE &&
        r.inputs.direction === "egress" &&
        runnerGroups.has(groupNames.get(r.inputs.securityGroupId as string) ?? ""),
    )
    .map((r) => (r.inputs.remoteIpPrefix as string | undefined) ?? "0.0.0.0/0")
    .filter((cidr) => foreignSupernets.some((f) => cidrOverlaps(cidr, f)));
}

export function renderDeployRunnerReach(
  resources: readonly RecordedResource[],
  environment: string,
  sites: readonly string[],
): string[] {
  const rows = deployRunnerReach(resources, environment, sites);
  const runners = recordedRunners(resources, environment, sites);
  if (runners.length === 0) return [`Deploy runners of ${environment}: none (clusters layer off).`];
  const width = (f: (r: RunnerReachRow) => string, h: string) => Math.max(h.length, ...rows.map((r) => f(r).length));
  const cols: Array<[string, (r: RunnerReachRow) => string]> = [
    ["runner", (r) => `${r.runner} (${r.address})`],
    ["site", (r) => r.site],
    ["group", (r) => r.group],
    ["admitted as", (r) => r.via],
    ["ports", (r) => r.ports],
  ];
  const widths = cols.map(([h, f]) => width(f, h));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [
    `Deploy runners of ${environment} and everything their ports are admitted to (runner ports carry: ${[...new Set(runners.flatMap((r) => r.groups.map((g) => g.replace(`${environment}-${r.site}-`, ""))))].join(", ")}):`,
    line(cols.map(([h]) => h)),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map((r) => line(cols.map(([, f]) => f(r)))),
  ];
}

/** The deploy-runner part of compliance.md's 6.3 / 6.4 section. */
export function deployRunnerComplianceLines(
  resources: readonly RecordedResource[],
  environment: string,
  sites: readonly string[],
  foreignSupernets: readonly string[],
): string[] {
  const runners = recordedRunners(resources, environment, sites);
  if (runners.length === 0) return ["Deploy runners: none in this stack (clusters layer off)."];
  const rows = deployRunnerReach(resources, environment, sites);
  const foreign = runnerForeignEgress(resources, environment, sites, foreignSupernets);
  const esc = (t: string) => t.replace(/\|/g, "\\|");
  return [
    `Deploy runners (${runners.map((r) => `\`${r.name}\` ${r.address}`).join(", ")}) and every rule that admits them:`,
    "",
    "| runner | site | group | admitted as | ports |",
    "| --- | --- | --- | --- | --- |",
    ...rows.map((r) => `| ${esc(r.runner)} | ${r.site} | ${r.group} | ${esc(r.via)} | ${r.ports} |`),
    "",
    `- Egress of the runners' groups into another environment (${foreignSupernets.map((f) => `\`${f}\``).join(", ")}): ${foreign.length === 0 ? "none" : foreign.map((c) => `\`${c}\``).join(", ")}.`,
  ];
}
