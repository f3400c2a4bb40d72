/**
 * The self-hosted deploy runners of one environment as plain data: where they
 * sit, which fixed addresses they hold, and the security-group rules that let
 * them reach exactly the Talos API and the API VIPs of their own
 * environment's clusters. No Pulumi here.
 */
import type { EnvironmentName } from "./address-plan";
import { PROTECTED_BRANCH, deployRunnerLabel } from "./change-management";
import { formatAddress, nthAddress, parseAddress, parseCidr } from "./cidr";
import { CLUSTER_BLOCK_OFFSETS } from "./cluster-addresses";
import {
  SERVICES,
  type ClusterId,
  type GroupKey,
  type SecurityGroupSpec,
  type SecurityRuleSpec,
  type SiteSecurityTable,
} from "./security-rules";

export const DEPLOY_RUNNER_GROUP = "deploy-runner" satisfies GroupKey;

/** The groups a runner's port carries: its own (no ingress but SSH from the jump host) and the site's `egress`. */
export const DEPLOY_RUNNER_PORT_GROUPS: GroupKey[] = [DEPLOY_RUNNER_GROUP, "egress"];

/**
 * Offsets of the runners' fixed addresses in the reserved head of the ops
 * site's subnet: after the management cluster's block (8-10), so adding a
 * runner never moves a VIP and a VIP never moves a runner. Fixed addresses
 * let other sites admit exactly the runners (/32) instead of the whole ops
 * site subnet.
 */
export const DEPLOY_RUNNER_ADDRESS_OFFSETS = [12, 13, 14, 15] as const;
export const MAX_DEPLOY_RUNNERS = DEPLOY_RUNNER_ADDRESS_OFFSETS.length;

export interface DeployRunnerAddressInput {
  subnet: string;
  count: number;
  /** How many head addresses DHCP never hands out. */
  reservedHead: number;
  /** Addresses already in use (configured resolvers). */
  taken?: readonly string[];
}

/** The runners' fixed addresses; throws when one would collide with a planned or taken address. */
export function deployRunnerAddresses(input: DeployRunnerAddressInput): string[] {
  if (!Number.isInteger(input.count) || input.count < 1 || input.count > MAX_DEPLOY_RUNNERS) {
    throw new Error(
      `between 1 and ${MAX_DEPLOY_RUNNERS} deploy runners fit the reserved head of a site subnet, not ${input.count}`,
    );
  }
  const subnet = parseCidr(input.subnet);
  const clusterOffsets = new Set(
    Object.values(CLUSTER_BLOCK_OFFSETS).flatMap((start) => [start, start + 1, start + 2]),
  );
  const taken = new Set((input.taken ?? []).map(parseAddress).filter((a): a is number => a !== undefined));
  return DEPLOY_RUNNER_ADDRESS_OFFSETS.slice(0, input.count).map((offset) => {
    if (offset >= input.reservedHead) {
      throw new Error(
        `deploy runner offset ${offset} of ${input.subnet} lies outside the ${input.reservedHead} addresses kept out of DHCP`,
      );
    }
    if (clusterOffsets.has(offset)) throw new Error(`deploy runner offset ${offset} collides with a cluster block`);
    const value = subnet.start + offset;
    if (taken.has(value))
      throw new Error(`deploy runner would take ${formatAddress(value)} in ${input.subnet}, which is already in use`);
    return nthAddress(input.subnet, offset);
  });
}

export interface DeployRunnerSiteInput {
  /** Clusters that run in this site. */
  clusters: readonly ClusterId[];
  /** Whether the environment's runners live in this site (the ops site). */
  runnersInSite: boolean;
  /** The runners' fixed addresses, all in the runners' site. */
  runnerAddresses: readonly string[];
}

const runnerPeer = { kind: "group", group: DEPLOY_RUNNER_GROUP } as const;

/**
 * One site's rules for the deploy runners. In the runners' own site the
 * clusters name the runner group; remote groups cannot cross regions, so
 * another site names each runner by its fixed /32, inside the environment's
 * own supernet. The runner group itself admits only SSH from the jump host:
 * the registration credential is delivered that way, and nothing else ever
 * needs to open a connection to a runner.
 */
export function deployRunnerSiteRules(input: DeployRunnerSiteInput): SiteSecurityTable {
  const groups: SecurityGroupSpec[] = [];
  const rules: SecurityRuleSpec[] = [];
  const peers = input.runnersInSite
    ? [{ peer: runnerPeer, from: DEPLOY_RUNNER_GROUP }]
    : input.runnerAddresses.map((address) => ({
        peer: { kind: "cidr", cidr: `${address}/32`, origin: "deploy-runner" } as const,
        from: `deploy-runner-${address.replace(/\./g, "-")}-32`,
      }));

  if (input.runnersInSite) {
    groups.push({
      key: DEPLOY_RUNNER_GROUP,
      description:
        "Self-hosted deploy runners: SSH from the jump host only; reach the Talos API and API VIPs of this environment",
    });
    rules.push({
      key: `${DEPLOY_RUNNER_GROUP}-in-${SERVICES.ssh.name}-from-jumphost`,
      group: DEPLOY_RUNNER_GROUP,
      direction: "ingress",
      protocol: SERVICES.ssh.protocol,
      ports: SERVICES.ssh.ports,
      peer: { kind: "group", group: "jumphost" },
      description: `${SERVICES.ssh.name}: the registration credential is delivered from the jump host`,
    });
  }

  for (const cluster of input.clusters) {
    const targets: Array<[GroupKey, (typeof SERVICES)["apid" | "apiserver"], string]> = [
      [`${cluster}-controlplane`, SERVICES.apid, "deploy jobs run talosctl from the environment's runners"],
      [`${cluster}-worker`, SERVICES.apid, "deploy jobs run talosctl from the environment's runners"],
      [`${cluster}-loadbalancer`, SERVICES.apiserver, "deploy jobs reach the Kubernetes API through the VIP"],
    ];
    for (const [target, service, why] of targets) {
      for (const { peer, from } of peers) {
        rules.push({
          key: `${target}-in-${service.name}-from-${from}`,
          group: target,
          direction: "ingress",
          protocol: service.protocol,
          ports: service.ports,
          peer,
          description: `${service.name}: ${why}`,
        });
      }
    }
  }
  return { groups, rules };
}

/** A site's table with the runner rules added after the existing ones. */
export function withDeployRunnerRules(table: SiteSecurityTable, runner: SiteSecurityTable): SiteSecurityTable {
  return { groups: [...table.groups, ...runner.groups], rules: [...table.rules, ...runner.rules] };
}

export interface DeployRunnerPlan {
  /** The runner label deploy jobs ask for (`runs-on: [self-hosted, <label>]`). */
  label: string;
  /** The org runner group: one per environment, so a runner of one cannot take another's jobs. */
  runnerGroup: string;
  /** The ops site: beside the jump host that runs the first `pulumi up`. */
  site: string;
  /** Prefix of every resource name, e.g. `production-osl2-deploy-runner`. */
  prefix: string;
  addresses: string[];
}

export function deployRunnerNames(environment: EnvironmentName) {
  return { label: deployRunnerLabel(environment), runnerGroup: deployRunnerLabel(environment) };
}

/**
 * What a given source address reaches in a set of site tables: the
 * (site, group, protocol, port-range) entries whose ingress admits it,
 * either by its groups (in its own site) or by a CIDR that contains it.
 */
export interface Reach {
  site: string;
  group: GroupKey;
  protocol: string;
  ports: string;
  /** How the rule names its source: `group`, or the CIDR's origin. */
  origin: string;
}

export function reachOf(
  source: { site: string; address: string; groups: readonly GroupKey[] },
  sites: ReadonlyArray<{ name: string; security: SiteSecurityTable }>,
): Reach[] {
  const value = parseAddress(source.address)!;
  const reach: Reach[] = [];
  for (const site of sites) {
    for (const rule of site.security.rules) {
      if (rule.direction !== "ingress") continue;
      const admits =
        rule.peer.kind === "group"
          ? site.name === source.site && source.groups.includes(rule.peer.group)
          : (() => {
              const c = parseCidr(rule.peer.cidr);
              return c.start <= value && value <= c.end;
            })();
      if (!admits) continue;
      reach.push({
        site: site.name,
        group: rule.group,
        protocol: rule.protocol ?? "any",
        ports: rule.ports
          ? rule.ports.from === rule.ports.to
            ? `${rule.ports.from}`
            : `${rule.ports.from}-${rule.ports.to}`
          : "any",
        origin: rule.peer.kind === "group" ? "group" : rule.peer.origin,
      });
    }
  }
  return reach;
}

/**
 * The workflow files whose own jobs run on a stack's deploy runners: the
 * reusable `pulumi up` job (deploy.yml defines no job itself, it only calls
 * this one), the nightly drift check and the approved pull-request preview of
 * staging and production. GitHub admits "only jobs directly defined within the
 * selected workflows", so a called workflow is listed by its own file; called
 * as `./.github/workflows/<file>` it runs at the caller's ref, which for a
 * deploy is `refs/heads/main`.
 */
export const DEPLOY_RUNNER_WORKFLOWS: readonly string[] = ["pulumi-stack.yml", "drift.yml", "preview-privileged.yml"];

/**
 * The workflows the runner group accepts, each pinned to `main`: a workflow
 * edited on a branch names another ref and gets no runner of this group.
 */
export function runnerGroupWorkflows(
  owner: string,
  repository: string,
  files: readonly string[],
  branch = PROTECTED_BRANCH,
): string[] {
  return files.map((file) => `${owner}/${repository}/.github/workflows/${file}@refs/heads/${branch}`);
}
