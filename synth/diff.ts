/**
 * The review diff: what a change does to one stack, computed from two synth
 * outputs (base and head). Pure: no files, no processes, no Pulumi. The CLI
 * (scripts/diff.ts) builds the two snapshots; synth/diff-render.ts prints the
 * result for a terminal or a pull-request comment.
 */
import { ANY_IPV4, cidrContains, cidrOverlaps } from "../plan/cidr";
import type { PolicyOutcome, SynthSnapshot } from "./diff-input";
import type { DigestedResource } from "./secret-digest";
import { portText, siteOf } from "./summary";
import { flowChangesOfSnapshots, type FlowChange } from "./diagrams";
import type { AddressPlan } from "../plan/address-plan";
import { displayText } from "../plan/display-text";

export interface DiffContext {
  /** The environment's own supernet (address-plan.yaml). */
  ownSupernet: string;
  /** Every other environment's supernet, by environment name. */
  foreignSupernets: Record<string, string>;
  /** The address plan, to name site subnets in the changed-flows picture; without it those show as CIDRs. */
  addressPlan?: AddressPlan;
}

export type InputChange =
  | { path: string; kind: "value"; before: unknown; after: unknown }
  /** A secret whose digest changed: it changed, its value is never shown. */
  | { path: string; kind: "secret" }
  | { path: string; kind: "became-secret" }
  | { path: string; kind: "no-longer-secret" }
  | { path: string; kind: "option"; before: unknown; after: unknown };

export interface ResourceRef {
  type: string;
  name: string;
  site: string;
}

export interface ResourceChange extends ResourceRef {
  changes: InputChange[];
  /** `replace`: the provider deletes and re-creates it; `rebuild`: the server is re-imaged in place. */
  operation: "update" | "replace" | "rebuild";
  /** The changed inputs that force the replacement or rebuild. */
  forcedBy: string[];
}

export interface IrreversibleOperation extends ResourceRef {
  operation: "delete" | "replace" | "rebuild";
  /** What makes it irreversible: e.g. "control-plane node", "machine secret", "protected". */
  what: string[];
  forcedBy: string[];
}

export interface RuleChange {
  site: string;
  group: string;
  direction: "ingress" | "egress";
  /** `group <name>` for a remote group, else the CIDR. */
  peer: string;
  ports: string;
  change: "added" | "removed";
  /** Loud marks: the rule reaches another environment, the whole Internet, or outside the plan. */
  alarms: string[];
}

export interface PolicyChange {
  name: string;
  control: string;
  before: string;
  after: string;
  weakens: boolean;
}

export interface Weakening {
  /** The control or area weakened, e.g. `6.3/6.4`, `security groups`, `state protection`. */
  control: string;
  message: string;
}

export type DiffOutcome = "no-change" | "changes" | "weakens";

export interface StackDiff {
  environment: string;
  sites: { added: string[]; removed: string[]; all: string[] };
  resources: { added: ResourceRef[]; removed: ResourceRef[]; changed: ResourceChange[] };
  rules: RuleChange[];
  compliance: { before: string; after: string; policies: PolicyChange[] };
  /** Stack-file `secure:` keys whose ciphertext was added, removed or changed. */
  secretConfig: { key: string; change: "added" | "removed" | "changed" }[];
  irreversible: IrreversibleOperation[];
  weakenings: Weakening[];
  /** Limits of this comparison a reviewer must know, e.g. secrets that could not be compared. */
  notes: string[];
  outcome: DiffOutcome;
  /** Grouped flows (the compliance.md picture's edges) that the change adds or removes. */
  flows?: FlowChange[];
}

/** The weakening "control" under which irreversible operations are listed. */
export const IRREVERSIBLE = "cannot be undone";

/** Exit codes of `npm run diff`, one per outcome; 1 stays "could not synth". */
export const EXIT_CODES: Record<DiffOutcome, number> = { "no-change": 0, changes: 3, weakens: 4 };

/**
 * Inputs whose change makes the provider replace the resource, from the
 * provider SDKs' own docs ("Changing this creates a new …"); the test reads
 * the SDK's .d.ts files and fails if an entry is not documented so.
 */
export const REPLACE_ON: Record<string, readonly string[]> = {
  "openstack:compute/instance:Instance": [
    "availabilityZone",
    "availabilityZoneHints",
    "blockDevices",
    "configDrive",
    "keyPair",
    "networks",
    "region",
    "userData",
  ],
  "openstack:networking/port:Port": ["deviceId", "deviceOwner", "macAddress", "networkId", "region", "tenantId"],
  "openstack:networking/secGroupRule:SecGroupRule": [
    "description",
    "direction",
    "ethertype",
    "portRangeMax",
    "portRangeMin",
    "protocol",
    "region",
    "remoteGroupId",
    "remoteIpPrefix",
    "securityGroupId",
    "tenantId",
  ],
  "openstack:networking/secGroup:SecGroup": ["region", "tenantId"],
  "openstack:compute/serverGroup:ServerGroup": ["name", "policies", "region"],
  "openstack:networking/subnet:Subnet": ["ipVersion", "networkId", "prefixLength", "region", "tenantId"],
  "openstack:networking/network:Network": ["availabilityZoneHints", "region", "tenantId"],
  "openstack:networking/router:Router": ["availabilityZoneHints", "region", "tenantId"],
  "openstack:networking/routerInterface:RouterInterface": ["portId", "region", "routerId", "subnetId"],
  "openstack:identity/ec2CredentialV3:Ec2CredentialV3": ["region"],
};

/** Inputs whose change re-images a server in place ("Changing this rebuilds the existing server"). */
export const REBUILD_ON: Record<string, readonly string[]> = {
  "openstack:compute/instance:Instance": ["imageId", "imageName"],
};

/**
 * Types whose every input forces replacement: tls and random values are
 * generated once, at create, and a `command` without an `update` command
 * runs `create` again on any change.
 */
function replacesOnAnyChange(type: string, inputs: Record<string, unknown> | undefined): boolean {
  if (type.startsWith("tls:") || type.startsWith("random:")) return true;
  return type === "command:local:Command" && (inputs?.update === undefined || inputs.update === null);
}

/** Resource types that hold the change-management controls themselves (6.2). */
const CHANGE_MANAGEMENT_TYPES = new Set([
  "github:index/repositoryRuleset:RepositoryRuleset",
  "github:index/branchProtection:BranchProtection",
  "github:index/repositoryEnvironment:RepositoryEnvironment",
  "github:index/repositoryEnvironmentDeploymentPolicy:RepositoryEnvironmentDeploymentPolicy",
  "github:index/repositoryCollaborators:RepositoryCollaborators",
  "github:index/repositoryFile:RepositoryFile",
  "github:index/repositoryDeployKey:RepositoryDeployKey",
]);

const key = (r: { type: string; name: string }) => `${r.type}::${r.name}`;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isList(v: unknown): v is unknown[] {
  return Array.isArray(v);
}

/** Leaf paths where two plain values differ. */
export function changedPaths(a: unknown, b: unknown, at = ""): { path: string; before: unknown; after: unknown }[] {
  if (isList(a) && isList(b)) {
    // A list of plain values is one value to a reviewer: `tags` changed, with both lists.
    if ([...a, ...b].every((v) => !isObject(v) && !Array.isArray(v))) {
      return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path: at, before: a, after: b }];
    }
    return Array.from({ length: Math.max(a.length, b.length) }, (_, i) =>
      changedPaths(a[i], b[i], `${at}[${i}]`),
    ).flat();
  }
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => changedPaths(a[k], b[k], at ? `${at}.${k}` : k));
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path: at, before: a, after: b }];
}

const under = (path: string, root: string) =>
  root === "(root)" || path === root || path.startsWith(`${root}.`) || path.startsWith(`${root}[`);
const topKey = (path: string) => path.split(/[.[]/)[0]!;

function secretChanges(base: DigestedResource, head: DigestedResource): InputChange[] {
  const out: InputChange[] = [];
  const paths = [...new Set([...base.secretPaths, ...head.secretPaths])].sort();
  for (const path of paths) {
    const inBase = base.secretPaths.includes(path);
    const inHead = head.secretPaths.includes(path);
    if (inBase && inHead) {
      const before = base.secretDigests?.[path];
      const after = head.secretDigests?.[path];
      // Without a digest on both sides nothing can be said; the stack-level note says so once.
      if (before !== undefined && after !== undefined && before !== after) out.push({ path, kind: "secret" });
    } else if (inHead) {
      out.push({ path, kind: "became-secret" });
    } else {
      // Gone from the head's secrets: exposed only if the head still has a value there.
      const exposed = changedPaths(base.inputs, head.inputs).some((c) => under(c.path, path) && c.after !== undefined);
      out.push(exposed ? { path, kind: "no-longer-secret" } : { path, kind: "secret" });
    }
  }
  return out;
}

/** Type chain from the stack down to the resource; it is part of the URN. */
function typeChain(r: DigestedResource, byName: Map<string, DigestedResource>): string[] {
  const chain: string[] = [];
  let parent = r.parent ? byName.get(r.parent) : undefined;
  const seen = new Set<string>();
  while (parent && parent.type !== "pulumi:pulumi:Stack" && !seen.has(parent.name)) {
    seen.add(parent.name);
    chain.unshift(parent.type);
    parent = parent.parent ? byName.get(parent.parent) : undefined;
  }
  return chain;
}

function componentsByName(resources: readonly DigestedResource[]): Map<string, DigestedResource> {
  return new Map(resources.filter((r) => !r.custom).map((r) => [r.name, r]));
}

function resourceChange(
  base: DigestedResource,
  head: DigestedResource,
  site: string,
  baseChain: string[],
  headChain: string[],
): ResourceChange | undefined {
  const secretPaths = [...base.secretPaths, ...head.secretPaths];
  // ignoreChanges: after create the engine sends the old value, so a change there neither updates nor replaces.
  const ignored = (path: string) => (head.options.ignoreChanges ?? []).some((p) => under(path, p));
  const changes: InputChange[] = [
    ...changedPaths(base.inputs, head.inputs)
      .filter((c) => !secretPaths.some((p) => under(c.path, p)))
      .map((c) => ({ path: c.path, kind: "value" as const, before: c.before, after: c.after })),
    ...secretChanges(base, head),
  ].filter((c) => !ignored(c.path));
  for (const option of ["protect", "retainOnDelete"] as const) {
    if (base.options[option] !== head.options[option]) {
      changes.push({
        path: `options.${option}`,
        kind: "option",
        before: base.options[option],
        after: head.options[option],
      });
    }
  }
  if ((base.provider ?? null) !== (head.provider ?? null)) {
    changes.push({
      path: "options.provider",
      kind: "option",
      before: base.provider ?? null,
      after: head.provider ?? null,
    });
  }
  if (baseChain.join("$") !== headChain.join("$")) {
    changes.push({ path: "options.parent", kind: "option", before: base.parent, after: head.parent });
  }
  if (changes.length === 0) return undefined;

  const inputPaths = changes.filter((c) => c.kind !== "option").map((c) => c.path);
  const forcedBy = new Set<string>();
  if (replacesOnAnyChange(head.type, head.inputs)) inputPaths.forEach((p) => forcedBy.add(p));
  for (const p of inputPaths) if (REPLACE_ON[head.type]?.includes(topKey(p))) forcedBy.add(p);
  // A new parent type chain is a new URN: the engine deletes and re-creates unless aliased.
  if (changes.some((c) => c.path === "options.parent")) forcedBy.add("options.parent");
  if (changes.some((c) => c.path === "options.provider")) forcedBy.add("options.provider");
  const rebuiltBy = inputPaths.filter((p) => REBUILD_ON[head.type]?.includes(topKey(p)));
  const operation = forcedBy.size > 0 ? "replace" : rebuiltBy.length > 0 ? "rebuild" : "update";
  return {
    type: head.type,
    name: head.name,
    site,
    changes,
    operation,
    forcedBy: operation === "replace" ? [...forcedBy].sort() : operation === "rebuild" ? rebuiltBy : [],
  };
}

/** Why losing this resource cannot be undone; empty when it can be re-created at will. */
export function statefulKinds(r: DigestedResource, chain: readonly string[]): string[] {
  const kinds: string[] = [];
  const role = isObject(r.inputs.metadata) ? r.inputs.metadata["node-role"] : undefined;
  if (r.type === "openstack:compute/instance:Instance" && role === "controlplane")
    kinds.push("control-plane node (etcd member)");
  else if (r.type === "openstack:compute/instance:Instance" && role !== undefined) kinds.push("Talos node");
  if (chain.includes("ske:talos:MachineSecrets") || r.type === "ske:talos:MachineSecrets")
    kinds.push("machine secret (cluster CA and keys)");
  if (chain.includes("ske:audit:AuditArchiveBucket") || r.type === "ske:audit:AuditArchiveBucket")
    kinds.push("audit archive");
  if (chain.includes("ske:audit:AuditLogStore") || r.type === "ske:audit:AuditLogStore") kinds.push("audit log store");
  const clusterCommand = r.type === "command:local:Command" && chain.at(-1) === "ske:cluster:Cluster";
  // Roll-out steps (components/cluster/rollout.ts): deleting an apply-config step takes its node out of etcd or drains it.
  if (clusterCommand && r.name.endsWith("-apply-config")) kinds.push("node leaves the cluster (etcd leave or drain)");
  else if (clusterCommand && !/-(talos-upgrade|kubernetes-upgrade)$/.test(r.name))
    kinds.push("cluster bootstrap (runs again)");
  if (r.options.protect) kinds.push("protected");
  else if (r.options.retainOnDelete) kinds.push("retained on delete");
  return kinds;
}

interface Rule {
  site: string;
  group: string;
  direction: "ingress" | "egress";
  peer: string;
  cidr?: string;
  ports: string;
}

function rules(snapshot: SynthSnapshot, sites: readonly string[]): Map<string, Rule> {
  const groups = new Map<string, string>();
  for (const r of snapshot.resources) {
    if (r.type === "openstack:networking/secGroup:SecGroup") groups.set(`${r.name}_id`, r.name);
  }
  const env = snapshot.environment;
  const out = new Map<string, Rule>();
  for (const r of snapshot.resources) {
    if (r.type !== "openstack:networking/secGroupRule:SecGroupRule") continue;
    const groupName = groups.get(String(r.inputs.securityGroupId)) ?? String(r.inputs.securityGroupId);
    const site = siteOf(groupName, env, sites);
    const strip = (n: string) => n.replace(`${env}-${site}-`, "");
    const remote = r.inputs.remoteGroupId;
    const cidr = remote
      ? undefined
      : typeof r.inputs.remoteIpPrefix === "string" && r.inputs.remoteIpPrefix
        ? r.inputs.remoteIpPrefix
        : ANY_IPV4;
    const rule: Rule = {
      site,
      group: strip(groupName),
      direction: r.inputs.direction === "egress" ? "egress" : "ingress",
      peer: remote ? `group ${strip(groups.get(displayText(remote)) ?? displayText(remote))}` : cidr!,
      ...(cidr ? { cidr } : {}),
      ports: portText(r.inputs),
    };
    out.set(`${rule.site}|${rule.group}|${rule.direction}|${rule.peer}|${rule.ports}`, rule);
  }
  return out;
}

function ruleAlarms(rule: Rule, context: DiffContext): string[] {
  if (!rule.cidr) return [];
  const alarms: string[] = [];
  const verb = rule.direction === "ingress" ? "ADMITS" : "REACHES";
  if (rule.cidr === ANY_IPV4 && rule.direction === "ingress") alarms.push(`OPEN TO ANY ADDRESS (${ANY_IPV4})`);
  for (const [env, supernet] of Object.entries(context.foreignSupernets).sort()) {
    if (cidrOverlaps(rule.cidr, supernet)) alarms.push(`${verb} ${env.toUpperCase()} ADDRESSES (${supernet})`);
  }
  if (rule.direction === "ingress" && rule.cidr !== ANY_IPV4 && !cidrContains(context.ownSupernet, rule.cidr)) {
    alarms.push(`from outside the environment's supernet (${context.ownSupernet})`);
  }
  return alarms;
}

const RANK: Record<string, number> = { pass: 0, "not-applicable": 1, advisory: 2, fail: 3, absent: 3 };

function policyChanges(before: readonly PolicyOutcome[], after: readonly PolicyOutcome[]): PolicyChange[] {
  const b = new Map(before.map((p) => [p.name, p]));
  const a = new Map(after.map((p) => [p.name, p]));
  const names = [...new Set([...b.keys(), ...a.keys()])];
  const out: PolicyChange[] = [];
  for (const name of names) {
    const was = b.get(name);
    const is = a.get(name);
    const beforeStatus = was ? `${was.status}${was.enforcement === "advisory" ? " (advisory)" : ""}` : "absent";
    const afterStatus = is ? `${is.status}${is.enforcement === "advisory" ? " (advisory)" : ""}` : "absent";
    const newFindings = (is?.violations.length ?? 0) > (was?.violations.length ?? 0);
    if (beforeStatus === afterStatus && !newFindings) continue;
    // A policy that disappears, is demoted to advisory, fails, or stops applying no longer guards its control.
    const weakens =
      !!was &&
      (!is ||
        RANK[is.status]! > RANK[was.status]! ||
        (was.enforcement === "mandatory" && is.enforcement !== "mandatory") ||
        newFindings);
    out.push({ name, control: (is ?? was)!.control, before: beforeStatus, after: afterStatus, weakens });
  }
  return out;
}

function secretConfigChanges(before: Record<string, string>, after: Record<string, string>): StackDiff["secretConfig"] {
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return keys.flatMap((k): StackDiff["secretConfig"] => {
    if (!(k in before)) return [{ key: k, change: "added" as const }];
    if (!(k in after)) return [{ key: k, change: "removed" as const }];
    return before[k] === after[k] ? [] : [{ key: k, change: "changed" as const }];
  });
}

/** PASS or FAIL: the verdict without its counts, which older synths worded differently. */
export function verdictWord(verdict: string): string {
  return /\b(PASS|FAIL)\b/.exec(verdict)?.[1] ?? verdict;
}

/** Compares one stack's synth output at the base with the head's. */
export function diffSnapshots(base: SynthSnapshot, head: SynthSnapshot, context: DiffContext): StackDiff {
  const environment = head.environment;
  const allSites = [...new Set([...base.sites, ...head.sites])];
  const baseByKey = new Map(base.resources.map((r) => [key(r), r]));
  const headByKey = new Map(head.resources.map((r) => [key(r), r]));
  const baseComponents = componentsByName(base.resources);
  const headComponents = componentsByName(head.resources);
  const ref = (r: DigestedResource): ResourceRef => ({
    type: r.type,
    name: r.name,
    site: siteOf(r.name, environment, allSites),
  });

  const added = head.resources.filter((r) => !baseByKey.has(key(r))).map(ref);
  const removedResources = base.resources.filter((r) => !headByKey.has(key(r)));
  const changed: ResourceChange[] = [];
  const irreversible: IrreversibleOperation[] = [];
  const weakenings: Weakening[] = [];

  for (const r of removedResources) {
    const what = statefulKinds(r, typeChain(r, baseComponents));
    if (what.length > 0) irreversible.push({ ...ref(r), operation: "delete", what, forcedBy: [] });
  }
  for (const h of head.resources) {
    const b = baseByKey.get(key(h));
    if (!b) continue;
    const baseChain = typeChain(b, baseComponents);
    const change = resourceChange(b, h, siteOf(h.name, environment, allSites), baseChain, typeChain(h, headComponents));
    if (!change) continue;
    changed.push(change);
    if (change.operation !== "update") {
      const what = statefulKinds(b, baseChain);
      if (what.length > 0)
        irreversible.push({ ...ref(h), operation: change.operation, what, forcedBy: change.forcedBy });
    }
    for (const c of change.changes) {
      if (
        c.kind === "option" &&
        (c.path === "options.protect" || c.path === "options.retainOnDelete") &&
        c.before === true
      ) {
        weakenings.push({ control: "state protection", message: `${h.name} loses ${c.path.slice("options.".length)}` });
      }
      if (c.kind === "no-longer-secret") {
        weakenings.push({ control: "secrets", message: `${h.name}: input ${c.path} is no longer a secret` });
      }
    }
  }

  const baseRules = rules(base, allSites);
  const headRules = rules(head, allSites);
  const ruleChanges: RuleChange[] = [];
  for (const [k, rule] of headRules) {
    if (baseRules.has(k)) continue;
    const { cidr: _cidr, ...shown } = rule;
    const alarms = ruleAlarms(rule, context);
    ruleChanges.push({ ...shown, change: "added", alarms });
    if (alarms.length > 0) {
      weakenings.push({
        control: "security groups",
        message: `${rule.site} ${rule.group} ${rule.direction} ${rule.peer} ${rule.ports}: ${alarms.join("; ")}`,
      });
    }
  }
  for (const [k, rule] of baseRules) {
    if (headRules.has(k)) continue;
    const { cidr: _cidr, ...shown } = rule;
    ruleChanges.push({ ...shown, change: "removed", alarms: ruleAlarms(rule, context) });
  }
  ruleChanges.sort(
    (a, b) =>
      a.site.localeCompare(b.site) ||
      a.group.localeCompare(b.group) ||
      a.direction.localeCompare(b.direction) ||
      a.change.localeCompare(b.change) ||
      a.peer.localeCompare(b.peer),
  );

  const policies = policyChanges(base.compliance.results, head.compliance.results);
  for (const p of policies.filter((p) => p.weakens)) {
    weakenings.push({ control: p.control, message: `policy ${p.name}: ${p.before} -> ${p.after}` });
  }
  for (const op of irreversible) {
    weakenings.push({ control: IRREVERSIBLE, message: `${op.operation} ${op.name} (${op.what.join(", ")})` });
  }
  const cmNames = [
    ...added.filter((r) => CHANGE_MANAGEMENT_TYPES.has(r.type)).map((r) => `${r.name} added`),
    ...removedResources.filter((r) => CHANGE_MANAGEMENT_TYPES.has(r.type)).map((r) => `${r.name} removed`),
    ...changed
      .filter((r) => CHANGE_MANAGEMENT_TYPES.has(r.type))
      .map((r) => `${r.name} changed (${r.changes.map((c) => c.path).join(", ")})`),
  ];
  // The settings that make a second person look are themselves changed: that always needs the second look.
  for (const n of cmNames) weakenings.push({ control: "6.2", message: `change-management setting ${n}` });

  const secretConfig = secretConfigChanges(base.secretConfig, head.secretConfig);
  const sites = {
    added: head.sites.filter((s) => !base.sites.includes(s)),
    removed: base.sites.filter((s) => !head.sites.includes(s)),
    all: allSites,
  };
  const anyChange =
    added.length +
      removedResources.length +
      changed.length +
      ruleChanges.length +
      policies.length +
      secretConfig.length >
      0 || verdictWord(base.compliance.verdict) !== verdictWord(head.compliance.verdict);
  const undigested = head.resources.filter((h) => {
    const b = baseByKey.get(key(h));
    return b && b.secretPaths.length > 0 && h.secretPaths.length > 0 && (!b.secretDigests || !h.secretDigests);
  }).length;
  const notes =
    undigested > 0
      ? [
          `${undigested} resources have secret inputs that cannot be compared: one side's synth records no secret digests (a base older than digests). Their secret changes are not shown.`,
        ]
      : [];
  return {
    environment,
    sites,
    resources: { added, removed: removedResources.map(ref), changed },
    rules: ruleChanges,
    compliance: { before: base.compliance.verdict, after: head.compliance.verdict, policies },
    secretConfig,
    irreversible,
    weakenings,
    notes,
    outcome: weakenings.length > 0 ? "weakens" : anyChange ? "changes" : "no-change",
    flows: flowChangesOfSnapshots(base, head, allSites, context),
  };
}

/** The outcome of several stacks: the worst of them. */
export function overallOutcome(diffs: readonly StackDiff[]): DiffOutcome {
  if (diffs.some((d) => d.outcome === "weakens")) return "weakens";
  return diffs.some((d) => d.outcome === "changes") ? "changes" : "no-change";
}
