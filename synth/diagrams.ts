/**
 * The pictures in compliance.md (and, for changed flows, in the review
 * diff): Mermaid flowcharts computed from the registered resources, the same
 * records the security-group matrix is read from. Nothing here is drawn by
 * hand, so a rule the program registers is on the picture and a picture
 * cannot show a flow the program does not ask for.
 *
 * Whether a flow crosses an environment is not decided here: an edge is red
 * exactly when one of its rules is a violation of one of the policies that
 * judge that (CROSS_ENVIRONMENT_POLICIES), so a red edge always comes with a
 * failing verdict and a failing verdict always shows its edge in red.
 */
import { cidrOverlaps } from "../plan/cidr";
import { ENVIRONMENTS, type AddressPlan, type EnvironmentName } from "../plan/address-plan";
import { deployEnvironmentName, deployRunnerLabel, IAC_REQUIRED_CHECKS } from "../plan/change-management";
import type { ProjectPlan } from "../plan/project-plan";
import { deployRunnerReach, recordedRunners } from "./deploy-runner-reach";
import { portText, siteOf } from "./summary";
import { displayText } from "../plan/display-text";

const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const GROUP = "openstack:networking/secGroup:SecGroup";
const CLUSTER = "ske:cluster:Cluster";
const RULESET = "github:index/repositoryRuleset:RepositoryRuleset";
const REPO_ENVIRONMENT = "github:index/repositoryEnvironment:RepositoryEnvironment";
const IAC_REPOSITORY = "ske-platform";

/** The policies whose violations are flows into or out of another environment. */
export const CROSS_ENVIRONMENT_POLICIES = [
  "no-rule-admits-another-environment",
  "production-admits-no-staging-or-test",
] as const;

/** What the diagrams read of a registered resource: recorded and digested resources both have this shape. */
export interface DiagramResource {
  type: string;
  name: string;
  inputs: Record<string, unknown>;
}

/** What the diagrams read of the policy run: the violations, each naming its resource as `type::name`. */
export interface DiagramPolicyResult {
  name: string;
  violations: readonly (string | { resource?: string; message: string })[];
}

/** Readability limits, checked by the tests for every committed stack. */
export const DIAGRAM_LIMITS = { edges: 40, nodes: 30, labelChars: 60 } as const;

export interface FlowEdge {
  site: string;
  from: string;
  to: string;
  /** Distinct ports of every rule on this edge, in registration order. */
  ports: string[];
  /** The rule resources this edge stands for. */
  rules: string[];
  /** One of the rules violates a cross-environment policy. */
  crossEnvironment: boolean;
}

export interface DiagramContext {
  environment: EnvironmentName;
  sites: readonly string[];
  addressPlan: AddressPlan;
  adminCidrs: readonly string[];
}

/** Rule names (not ids) that a cross-environment policy found, read from the verdict. */
export function crossEnvironmentRules(results: readonly DiagramPolicyResult[]): Set<string> {
  const names = new Set<string>();
  const prefix = `${RULE}::`;
  for (const r of results) {
    if (!(CROSS_ENVIRONMENT_POLICIES as readonly string[]).includes(r.name)) continue;
    for (const v of r.violations) {
      const text = typeof v === "string" ? v : `${v.resource ?? ""}: ${v.message}`;
      if (!text.startsWith(prefix)) continue;
      names.add(text.slice(prefix.length).split(": ")[0]!);
    }
  }
  return names;
}

/**
 * Where an address range sits, in words a reviewer recognises; a range in
 * another environment keeps its CIDR, named after that environment.
 */
function cidrLabel(cidr: string, ctx: DiagramContext, runnerAddresses: readonly string[]): string {
  if (ctx.adminCidrs.includes(cidr)) return "admin ranges";
  for (const environment of ENVIRONMENTS) {
    const plan = ctx.addressPlan.environments[environment];
    if (environment !== ctx.environment) {
      if (cidrOverlaps(cidr, plan.supernet)) return `${environment} ${cidr}`;
      continue;
    }
    for (const [site, subnet] of Object.entries(plan.sites)) if (subnet === cidr) return `${site} subnet ${cidr}`;
    if (runnerAddresses.some((a) => `${a}/32` === cidr)) return "deploy runners";
  }
  return cidr;
}

/**
 * Every registered rule as an edge, parallel rules between the same two
 * ends grouped into one. Egress destinations outside every other
 * environment are one node: the program cuts the other supernets out of
 * 0.0.0.0/0, and the picture shows that as one flow, not 16.
 */
export function flowEdges(
  resources: readonly DiagramResource[],
  ctx: DiagramContext,
  crossRules: ReadonlySet<string>,
): FlowEdge[] {
  const groupNames = new Map(resources.filter((r) => r.type === GROUP).map((r) => [`${r.name}_id`, r.name]));
  const runnerAddresses = recordedRunners(resources as never, ctx.environment, ctx.sites).map((r) => r.address);
  const edges = new Map<string, FlowEdge>();
  for (const r of resources) {
    if (r.type !== RULE) continue;
    const groupResource = groupNames.get(r.inputs.securityGroupId as string) ?? String(r.inputs.securityGroupId);
    const site = siteOf(groupResource, ctx.environment, ctx.sites);
    const strip = (n: string) => n.replace(`${ctx.environment}-${site}-`, "");
    const group = strip(groupResource);
    const cidr =
      typeof r.inputs.remoteIpPrefix === "string" && r.inputs.remoteIpPrefix ? r.inputs.remoteIpPrefix : undefined;
    const remote = r.inputs.remoteGroupId
      ? strip(groupNames.get(r.inputs.remoteGroupId as string) ?? displayText(r.inputs.remoteGroupId))
      : undefined;
    const cross = crossRules.has(r.name);
    let peer: string;
    if (remote !== undefined) peer = remote;
    else {
      const label = cidrLabel(cidr ?? "0.0.0.0/0", ctx, runnerAddresses);
      const foreign = ENVIRONMENTS.some((e) => e !== ctx.environment && label.startsWith(`${e} `));
      peer = r.inputs.direction === "egress" && !foreign && !cross ? "outside other environments" : label;
    }
    const [from, to] = r.inputs.direction === "egress" ? [group, peer] : [peer, group];
    const key = `${site}|${from}|${to}|${cross}`;
    const edge = edges.get(key) ?? { site, from, to, ports: [], rules: [], crossEnvironment: cross };
    const service =
      typeof r.inputs.description === "string" && r.inputs.description.includes(":")
        ? `${r.inputs.description.split(":")[0]} `
        : "";
    const text = portText(r.inputs);
    const port = service.trim() === text ? text : `${service}${text}`;
    if (!edge.ports.includes(port)) edge.ports.push(port);
    edge.rules.push(r.name);
    edges.set(key, edge);
  }
  return [...edges.values()].sort(
    (a, b) => a.site.localeCompare(b.site) || a.from.localeCompare(b.from) || a.to.localeCompare(b.to),
  );
}

// ---- Mermaid text -----------------------------------------------------------

const quote = (text: string) => `"${text.replace(/"/g, "#quot;")}"`;

/** The edge label: ports, collapsed once they stop being readable. */
export function portsLabel(ports: readonly string[]): string {
  const all = ports.join(" ");
  if (all.length <= 44) return all;
  return `${ports[0]} +${ports.length - 1} more`;
}

const RED = "stroke:#d32f2f,stroke-width:3px,color:#d32f2f";
const GREEN = "stroke:#2e7d32,stroke-width:3px,color:#2e7d32";
const REMOVED = "stroke:#9e9e9e,stroke-dasharray:5 5,color:#9e9e9e";

class Flowchart {
  private readonly ids = new Map<string, string>();
  private readonly body: string[] = [];
  private readonly styles: string[] = [];
  private edgeCount = 0;
  constructor(private readonly direction: "LR" | "TB") {}

  node(key: string, label = key): string {
    const known = this.ids.get(key);
    if (known) return known;
    const id = `n${this.ids.size}`;
    this.ids.set(key, id);
    this.body.push(`  ${id}[${quote(label)}]`);
    return id;
  }

  /** A box; `key` lets edges point at the box itself (one edge to every node in it). */
  subgraph(title: string, fill: () => void, key?: string): void {
    const id = `s${this.body.length}`;
    if (key) this.ids.set(key, id);
    this.body.push(`  subgraph ${id}[${quote(title)}]`);
    fill();
    this.body.push("  end");
  }

  edge(from: string, to: string, label: string | undefined, style?: "red" | "added" | "removed"): void {
    const arrow = style === "removed" ? "-.->" : "-->";
    this.body.push(`  ${this.node(from)} ${arrow}${label ? `|${quote(label)}|` : ""} ${this.node(to)}`);
    const css = style === "red" ? RED : style === "added" ? GREEN : style === "removed" ? REMOVED : undefined;
    if (css) this.styles.push(`  linkStyle ${this.edgeCount} ${css}`);
    this.edgeCount++;
  }

  get edges(): number {
    return this.edgeCount;
  }

  get nodes(): number {
    return this.ids.size;
  }

  text(): string {
    return [`flowchart ${this.direction}`, ...this.body, ...this.styles].join("\n");
  }
}

export interface Diagram {
  title: string;
  mermaid: string;
  edges: number;
  nodes: number;
  longestLabel: number;
}

function finish(title: string, chart: Flowchart): Diagram {
  const labels = [...chart.text().matchAll(/"([^"]*)"/g)].map((m) => m[1]!.length);
  return { title, mermaid: chart.text(), edges: chart.edges, nodes: chart.nodes, longestLabel: Math.max(0, ...labels) };
}

/** The clusters of the stack by site, from the registered Cluster components. */
function clustersBySite(resources: readonly DiagramResource[], ctx: DiagramContext): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const c of resources.filter((r) => r.type === CLUSTER)) {
    const site = siteOf(c.name, ctx.environment, ctx.sites);
    out.set(site, [...(out.get(site) ?? []), c.name.replace(`${ctx.environment}-${site}-`, "")]);
  }
  return out;
}

/** Separation: every environment with its supernet, sites and projects; red edges for any flow that crosses. */
export function separationDiagram(
  resources: readonly DiagramResource[],
  ctx: DiagramContext & { projects: ProjectPlan },
  edges: readonly FlowEdge[],
): Diagram {
  const chart = new Flowchart("LR");
  const clusters = clustersBySite(resources, ctx);
  for (const environment of ENVIRONMENTS) {
    const plan = ctx.addressPlan.environments[environment];
    chart.subgraph(`${environment} ${plan.supernet}${environment === ctx.environment ? " (this stack)" : ""}`, () => {
      for (const [site, subnet] of Object.entries(plan.sites)) {
        const project = ctx.projects.environments[environment][site];
        const here = environment === ctx.environment ? clusters.get(site) : undefined;
        chart.node(
          `${environment}/${site}`,
          `${site} ${subnet} · project ${project?.name ?? "(none)"}${here?.length ? ` · ${here.join(", ")}` : ""}`,
        );
      }
    });
  }
  const crossing = edges.filter((e) => e.crossEnvironment);
  for (const e of crossing) {
    const peer =
      e.from === e.to ? e.from : [e.from, e.to].find((end) => ENVIRONMENTS.some((env) => end.startsWith(`${env} `)));
    const foreign = ENVIRONMENTS.find((env) => peer?.startsWith(`${env} `)) ?? "another environment";
    const foreignSite = Object.keys(ctx.addressPlan.environments[foreign as EnvironmentName]?.sites ?? {})[0];
    const own = `${ctx.environment}/${e.site}`;
    const other = foreignSite ? `${foreign}/${foreignSite}` : foreign;
    const label = `${e.from} → ${e.to} ${portsLabel(e.ports)}`;
    if (e.to === peer) chart.edge(own, other, label, "red");
    else chart.edge(other, own, label, "red");
  }
  return finish(
    `Separation of ${ctx.environment}: ${crossing.length === 0 ? "no security-group rule admits or reaches another environment" : `${crossing.length} ${crossing.length === 1 ? "flow crosses" : "flows cross"} into another environment (red), and compliance fails`}`,
    chart,
  );
}

/** Flows of one site: the registered rules, grouped, inside cluster boxes. */
export function siteFlowDiagram(site: string, edges: readonly FlowEdge[]): Diagram {
  const chart = new Flowchart("LR");
  const inSite = edges.filter((e) => e.site === site);
  const ends = [...new Set(inSite.flatMap((e) => [e.from, e.to]))];
  const clusterOf = (end: string) => /^(.*)-(controlplane|worker|loadbalancer)$/.exec(end)?.[1];
  const clusterNames = [...new Set(ends.map(clusterOf).filter((c): c is string => c !== undefined))].sort();
  for (const cluster of clusterNames) {
    chart.subgraph(
      `${cluster} cluster`,
      () => {
        for (const end of ends.filter((e) => clusterOf(e) === cluster).sort()) chart.node(end);
      },
      `cluster:${cluster}`,
    );
  }
  // Traffic among a cluster's own nodes (etcd, kubelet, VXLAN, health) is one edge per cluster, not one per pair.
  const internal = (e: FlowEdge) => {
    const cluster = clusterOf(e.from);
    return (
      cluster !== undefined &&
      cluster === clusterOf(e.to) &&
      !e.crossEnvironment &&
      ![e.from, e.to].some((end) => end.endsWith("-loadbalancer"))
    );
  };
  for (const cluster of clusterNames) {
    const own = inSite.filter((e) => internal(e) && clusterOf(e.from) === cluster);
    if (own.length === 0) continue;
    const to = own.some((e) => e.to.endsWith("-worker")) ? `${cluster}-worker` : own[0]!.to;
    chart.edge(
      `${cluster}-controlplane`,
      to,
      `within cluster: ${new Set(own.flatMap((e) => e.ports)).size} ports, both ways`,
    );
  }
  // The same flow to a cluster's control plane and its workers is one edge to the cluster's box.
  const outside = inSite.filter((x) => !internal(x));
  const nodesOf = (cluster: string) => [`${cluster}-controlplane`, `${cluster}-worker`];
  const wholeCluster = (e: FlowEdge) => {
    const cluster = clusterOf(e.to);
    if (cluster === undefined || !nodesOf(cluster).includes(e.to) || e.crossEnvironment) return undefined;
    const same = nodesOf(cluster).map((to) =>
      outside.find((x) => x.from === e.from && x.to === to && !x.crossEnvironment && x.ports.join() === e.ports.join()),
    );
    return same.every(Boolean) ? cluster : undefined;
  };
  for (const e of outside) {
    const cluster = wholeCluster(e);
    if (cluster !== undefined && e.to !== `${cluster}-controlplane`) continue;
    chart.edge(
      e.from,
      cluster !== undefined ? `cluster:${cluster}` : e.to,
      portsLabel(e.ports),
      e.crossEnvironment ? "red" : undefined,
    );
  }
  return finish(`Flows of ${site} (ports on the edges)`, chart);
}

/** The change path, from the registered ruleset, deployment environment, runners and clusters. */
export function changePathDiagram(resources: readonly DiagramResource[], ctx: DiagramContext): Diagram {
  const chart = new Flowchart("LR");
  const ruleset = resources.find((r) => r.type === RULESET && r.inputs.repository === IAC_REPOSITORY);
  const rules = ruleset?.inputs.rules as
    | { pullRequest?: Record<string, unknown>; requiredStatusChecks?: { requiredChecks?: { context: string }[] } }
    | undefined;
  const checks = rules?.requiredStatusChecks?.requiredChecks?.map((c) => c.context) ?? [...IAC_REQUIRED_CHECKS];
  const pr = rules?.pullRequest;
  const owner = ruleset ? "" : " (owning stack)";
  const envName = deployEnvironmentName(ctx.environment);
  const environment = resources.find(
    (r) => r.type === REPO_ENVIRONMENT && r.inputs.repository === IAC_REPOSITORY && r.inputs.environment === envName,
  );
  const runners = recordedRunners(resources as never, ctx.environment, ctx.sites);
  chart.node("branch", "feature branch");
  chart.node("pr", "pull request to main");
  chart.node("checks", `${checks.length} required checks${owner}`);
  chart.node(
    "review",
    pr
      ? `${String(pr.requiredApprovingReviewCount)} approval · code owners ${pr.requireCodeOwnerReview === true ? "required" : "NOT required"} · last-push approval ${pr.requireLastPushApproval === true ? "on" : "OFF"}`
      : `review${owner}`,
  );
  const mainRules = ruleset?.inputs.rules as { nonFastForward?: boolean } | undefined;
  const bypass = ruleset?.inputs.bypassActors as unknown[] | undefined;
  chart.node(
    "main",
    ruleset
      ? `main: force push ${mainRules?.nonFastForward === true ? "blocked" : "ALLOWED"}, bypass ${bypass?.length === 0 ? "none" : "PRESENT"}`
      : `main${owner}`,
  );
  chart.node(
    "env",
    environment
      ? `environment ${envName}: ${(environment.inputs.reviewers as unknown[] | undefined)?.length ? "team approval" : "NO reviewers"}, ${environment.inputs.preventSelfReview === true ? "no self-review" : "self-review allowed"}`
      : `environment ${envName}${owner}`,
  );
  chart.node("runner", `deploy runners ${deployRunnerLabel(ctx.environment)}: ${runners.length}`);
  chart.edge("branch", "pr", undefined);
  chart.edge("pr", "checks", undefined);
  chart.edge("pr", "review", undefined);
  chart.edge("checks", "main", "all pass");
  chart.edge("review", "main", "approved");
  chart.edge("main", "env", "deploy job");
  chart.edge("env", "runner", "runs-on label");
  const clusters = clustersBySite(resources, ctx);
  const reach = deployRunnerReach(resources as never, ctx.environment, ctx.sites);
  for (const [site, names] of [...clusters.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    for (const name of names) {
      // What the runners' ports are admitted to on this cluster, read back from the rules.
      const ports = [
        ...new Set(
          reach.filter((r) => r.site === site && r.group.startsWith(`${name}-`)).flatMap((r) => r.ports.split(" ")),
        ),
      ];
      if (ports.length) chart.edge("runner", `cluster ${site}-${name}`, portsLabel(ports));
      else chart.node(`cluster ${site}-${name}`, `cluster ${site}-${name} (runners not admitted)`);
    }
  }
  return finish(`Change path of ${ctx.environment}`, chart);
}

export function complianceDiagrams(
  resources: readonly DiagramResource[],
  ctx: DiagramContext & { projects: ProjectPlan },
  results: readonly DiagramPolicyResult[],
): Diagram[] {
  const edges = flowEdges(resources, ctx, crossEnvironmentRules(results));
  const sites = [...new Set(edges.map((e) => e.site))].sort();
  return [
    separationDiagram(resources, ctx, edges),
    ...sites.map((site) => siteFlowDiagram(site, edges)),
    changePathDiagram(resources, ctx),
  ];
}

/** The diagrams as markdown: a fenced `mermaid` block each, which GitHub renders. */
export function diagramLines(diagrams: readonly Diagram[]): string[] {
  // Bold titles, not headings: the report's "## " headings are one per control.
  return diagrams.flatMap((d) => [`**${d.title}**`, "", "```mermaid", d.mermaid, "```", ""]);
}

// ---- Review diff ------------------------------------------------------------

export interface FlowChange {
  site: string;
  from: string;
  to: string;
  ports: string;
  change: "added" | "removed";
  crossEnvironment: boolean;
}

/** What a change adds to or removes from the grouped flows: per edge, the ports that appear and the ports that go. */
export function flowChanges(before: readonly FlowEdge[], after: readonly FlowEdge[]): FlowChange[] {
  const key = (e: FlowEdge) => `${e.site}|${e.from}|${e.to}|${e.crossEnvironment}`;
  const b = new Map(before.map((e) => [key(e), e]));
  const a = new Map(after.map((e) => [key(e), e]));
  const out: FlowChange[] = [];
  const compare = (from: Map<string, FlowEdge>, to: Map<string, FlowEdge>, change: FlowChange["change"]) => {
    for (const [k, e] of from) {
      const ports = e.ports.filter((p) => !(to.get(k)?.ports ?? []).includes(p));
      if (ports.length)
        out.push({
          site: e.site,
          from: e.from,
          to: e.to,
          ports: portsLabel(ports),
          change,
          crossEnvironment: e.crossEnvironment,
        });
    }
  };
  compare(a, b, "added");
  compare(b, a, "removed");
  return out;
}

/** Text struck through with U+0336, which survives every renderer, unlike markup inside a Mermaid label. */
export function struck(text: string): string {
  return [...text].map((ch) => `${ch}\u0336`).join("");
}

/** Only the changed flows, added green (red if it crosses an environment), removed grey and dashed. */
export function flowChangeDiagram(
  changes: readonly FlowChange[],
  maxEdges: number = DIAGRAM_LIMITS.edges,
): Diagram | undefined {
  if (changes.length === 0) return undefined;
  const chart = new Flowchart("LR");
  const drawn = changes.slice(0, maxEdges);
  for (const c of drawn) {
    const label = c.change === "added" ? `+ ${c.ports}` : `removed: ${struck(c.ports)}`;
    chart.edge(
      `${c.site}: ${c.from}`,
      `${c.site}: ${c.to}`,
      label,
      c.change === "removed" ? "removed" : c.crossEnvironment ? "red" : "added",
    );
  }
  const rest = changes.length - drawn.length;
  return finish(`Changed flows${rest > 0 ? ` (first ${drawn.length}; ${rest} more in the table)` : ""}`, chart);
}

/**
 * The flow changes between two synth snapshots. The cross-environment
 * verdict is each side's own policy result, as recorded in compliance.json.
 */
export function flowChangesOfSnapshots(
  base: {
    environment: string;
    resources: readonly DiagramResource[];
    compliance: { results: readonly { name: string; violations: readonly string[] }[] };
  },
  head: {
    environment: string;
    resources: readonly DiagramResource[];
    compliance: { results: readonly { name: string; violations: readonly string[] }[] };
  },
  sites: readonly string[],
  context: { ownSupernet: string; foreignSupernets: Record<string, string>; addressPlan?: AddressPlan },
): FlowChange[] {
  const environment = head.environment as EnvironmentName;
  const addressPlan =
    context.addressPlan ??
    ({
      environments: Object.fromEntries(
        ENVIRONMENTS.map((e) => [
          e,
          {
            supernet: e === environment ? context.ownSupernet : (context.foreignSupernets[e] ?? "0.0.0.0/32"),
            sites: {},
          },
        ]),
      ),
    } as unknown as AddressPlan);
  const ctx: DiagramContext = { environment, sites, addressPlan, adminCidrs: [] };
  return flowChanges(
    flowEdges(base.resources, ctx, crossEnvironmentRules(base.compliance.results)),
    flowEdges(head.resources, ctx, crossEnvironmentRules(head.compliance.results)),
  );
}
