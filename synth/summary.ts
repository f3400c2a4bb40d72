import { renderDeployRunnerReach } from "./deploy-runner-reach";
import type { RecordedResource } from "./mock-runtime";

export interface MatrixRow {
  site: string;
  group: string;
  direction: "ingress" | "egress";
  source: string;
  ports: string[];
}

/** A security-group rule's protocol and port or port range, as the summaries and diagrams show it. */
export function portText(inputs: Record<string, unknown>): string {
  const protocol = (inputs.protocol as string | undefined) ?? "any";
  const min = inputs.portRangeMin as number | undefined;
  const max = inputs.portRangeMax as number | undefined;
  if (min === undefined) return protocol;
  return `${protocol}/${min === max ? min : `${min}-${max}`}`;
}

import { siteOf } from "./resource-site";
import { displayText } from "../plan/display-text";
export { siteOf };

/**
 * The security-group matrix, read back from the registered rule resources
 * rather than from the plan: it shows what the program really asks for.
 */
export function securityMatrix(
  resources: readonly RecordedResource[],
  environment: string,
  sites: readonly string[],
): MatrixRow[] {
  const groupNames = new Map<string, string>();
  for (const r of resources) {
    if (r.type === "openstack:networking/secGroup:SecGroup") groupNames.set(`${r.name}_id`, r.name);
  }
  const rows = new Map<string, MatrixRow>();
  for (const r of resources) {
    if (r.type !== "openstack:networking/secGroupRule:SecGroupRule") continue;
    const groupResource = groupNames.get(r.inputs.securityGroupId as string) ?? String(r.inputs.securityGroupId);
    const site = siteOf(groupResource, environment, sites);
    const strip = (n: string) => n.replace(`${environment}-${site}-`, "");
    const group = strip(groupResource);
    const source = r.inputs.remoteGroupId
      ? `group ${strip(groupNames.get(r.inputs.remoteGroupId as string) ?? displayText(r.inputs.remoteGroupId))}`
      : String(r.inputs.remoteIpPrefix);
    const direction = r.inputs.direction as "ingress" | "egress";
    const key = `${site}|${group}|${direction}|${source}`;
    const row = rows.get(key) ?? { site, group, direction, source, ports: [] };
    row.ports.push(portText(r.inputs));
    rows.set(key, row);
  }
  return [...rows.values()];
}

export function countsByTypeAndSite(
  resources: readonly RecordedResource[],
  environment: string,
  sites: readonly string[],
) {
  const counts = new Map<string, Map<string, number>>();
  for (const r of resources) {
    const site = siteOf(r.name, environment, sites);
    const perSite = counts.get(r.type) ?? new Map<string, number>();
    perSite.set(site, (perSite.get(site) ?? 0) + 1);
    counts.set(r.type, perSite);
  }
  return counts;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

export function renderSummary(
  resources: readonly RecordedResource[],
  environment: string,
  sites: readonly string[],
): string {
  const columns = [...sites, "(global)"];
  const counts = countsByTypeAndSite(resources, environment, sites);
  const countRows = [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, perSite]) => [
      type,
      ...columns.map((s) => String(perSite.get(s) ?? 0)),
      String([...perSite.values()].reduce((a, b) => a + b, 0)),
    ]);
  const totals = columns.map((site) =>
    [...counts.values()].reduce((sum, perSite) => sum + (perSite.get(site) ?? 0), 0),
  );
  countRows.push(["total", ...totals.map(String), String(resources.length)]);

  const matrix = securityMatrix(resources, environment, sites);
  const ingress = matrix
    .filter((row) => row.direction === "ingress")
    .sort((a, b) => a.site.localeCompare(b.site) || a.group.localeCompare(b.group) || a.source.localeCompare(b.source))
    .map((row) => [row.site, row.group, row.source, row.ports.join(" ")]);
  const egress = matrix.filter((row) => row.direction === "egress");
  const egressBySite = sites.map((site) => {
    const rows = egress.filter((row) => row.site === site);
    return `  ${site}: group egress allows ${rows.length} destination CIDRs (${rows.map((r) => r.source).join(", ")})`;
  });

  return [
    `Resources of ${environment} by type and site`,
    table(["type", ...columns, "total"], countRows),
    "",
    `Security-group matrix of ${environment}: ingress (every group starts empty; nothing else is admitted)`,
    table(["site", "group", "source", "ports"], ingress),
    "",
    `Egress (the "egress" group is carried by every port):`,
    ...egressBySite,
    "",
    ...renderDeployRunnerReach(resources, environment, sites),
  ].join("\n");
}
