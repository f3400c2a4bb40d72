/**
 * Day 2 roll-out of one cluster as one step resource per node and change
 * (docs/decisions/day2-rollout.md). Order lives in dependsOn: the engine
 * starts a step only when the steps before it succeeded, and a failed step
 * stops the `pulumi up` with the rest untouched.
 *
 *   Talos upgrade: cp-0 → cp-1 → … → worker batch 1 → worker batch 2 → …
 *   Kubernetes upgrade (once)
 *   config apply:  cp-0 → cp-1 → … → worker batch 1 → worker batch 2 → …
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";
import { installerImage, rolloutWaves, type NodeRole } from "../../plan/rollout";
import {
  ROLLOUT_ENV,
  evidenceVariable,
  rolloutStdin,
  applyConfigScript,
  kubernetesUpgradeScript,
  removeNodeScript,
  talosUpgradeScript,
} from "./rollout-scripts";

/** What makes a step a roll-out step; read by the evidence policy and the review diff. */
export const ROLLOUT_STEP_KINDS = {
  apply: "apply-config",
  talos: "talos-upgrade",
  kubernetes: "kubernetes-upgrade",
} as const;

export interface RolloutNodeTarget {
  role: NodeRole;
  index: number;
  /** Instance name, e.g. production-osl2-mgmt-cp-1: what a failure message names. */
  name: string;
  address: pulumi.Input<string>;
  instance: pulumi.Resource;
}

export interface RolloutCommon {
  clusterName: string;
  talosconfig: pulumi.Input<string>;
  controlPlaneAddresses: pulumi.Input<string[]>;
  workerAddresses: pulumi.Input<string[]>;
  talosVersion: string;
  kubernetesVersion: string;
  /** What every step waits for on a new cluster: bootstrap, and the CNI without which no node is Ready. */
  after: pulumi.Resource[];
  parent: pulumi.Resource;
}

const csv = (addresses: pulumi.Input<string[]>) => pulumi.output(addresses).apply((a) => a.join(","));

function commonEnvironment(c: RolloutCommon, node: { name: string; role: NodeRole; address: pulumi.Input<string> }) {
  return {
    [ROLLOUT_ENV.cluster]: c.clusterName,
    [ROLLOUT_ENV.nodeName]: node.name,
    [ROLLOUT_ENV.node]: node.address,
    [ROLLOUT_ENV.role]: node.role,
    [ROLLOUT_ENV.controlPlaneNodes]: csv(c.controlPlaneAddresses),
    [ROLLOUT_ENV.workerNodes]: csv(c.workerAddresses),
    [ROLLOUT_ENV.anchor]: pulumi.output(c.controlPlaneAddresses).apply((a) => a[0]!),
  };
}

/** One Talos upgrade step: runs when the node's desired Talos version changes, and gates a new node's join. */
export function talosUpgradeStep(
  c: RolloutCommon,
  node: RolloutNodeTarget,
  after: pulumi.Resource[],
): command.local.Command {
  const script = talosUpgradeScript();
  return new command.local.Command(
    `${node.name}-${ROLLOUT_STEP_KINDS.talos}`,
    {
      create: script,
      update: script,
      stdin: pulumi.secret(pulumi.output(c.talosconfig).apply((t) => rolloutStdin(t))),
      environment: {
        ...commonEnvironment(c, node),
        [ROLLOUT_ENV.talosVersion]: c.talosVersion,
        [ROLLOUT_ENV.installerImage]: installerImage(c.talosVersion),
      },
      logging: "stderr",
    },
    { parent: c.parent, dependsOn: [...c.after, node.instance, ...after] },
  );
}

/**
 * One config apply step. Its inputs change when the machine config does, so
 * a preview of a config change shows exactly one update per node. The
 * evidence rides along in plain text: the engine records it in state only
 * when the step succeeded, that is, once this node runs the config.
 */
export function applyConfigStep(
  c: RolloutCommon,
  node: RolloutNodeTarget,
  machineConfig: pulumi.Input<string>,
  evidence: Record<string, string> | undefined,
  after: pulumi.Resource[],
): command.local.Command {
  const script = applyConfigScript();
  return new command.local.Command(
    `${node.name}-${ROLLOUT_STEP_KINDS.apply}`,
    {
      create: script,
      update: script,
      delete: removeNodeScript(),
      stdin: pulumi.secret(pulumi.all([c.talosconfig, machineConfig]).apply(([t, m]) => rolloutStdin(t, m))),
      environment: {
        ...commonEnvironment(c, node),
        ...Object.fromEntries(Object.entries(evidence ?? {}).map(([field, value]) => [evidenceVariable(field), value])),
      },
      logging: "stderr",
    },
    { parent: c.parent, dependsOn: [...c.after, node.instance, ...after] },
  );
}

/** The cluster's Kubernetes upgrade, once, after every node's Talos upgrade. */
export function kubernetesUpgradeStep(
  c: RolloutCommon,
  anchor: RolloutNodeTarget,
  after: pulumi.Resource[],
): command.local.Command {
  const script = kubernetesUpgradeScript();
  return new command.local.Command(
    `${c.clusterName}-${ROLLOUT_STEP_KINDS.kubernetes}`,
    {
      create: script,
      update: script,
      stdin: pulumi.secret(pulumi.output(c.talosconfig).apply((t) => rolloutStdin(t))),
      environment: {
        ...commonEnvironment(c, anchor),
        [ROLLOUT_ENV.kubernetesVersion]: c.kubernetesVersion,
      },
      logging: "stderr",
    },
    { parent: c.parent, dependsOn: [...c.after, ...after] },
  );
}

/**
 * Chains steps wave by wave: every step of a wave depends on every step of
 * the wave before. Returns the steps in wave order.
 */
export function chainWaves<T extends pulumi.Resource>(
  waves: readonly { role: NodeRole; index: number }[][],
  start: pulumi.Resource[],
  make: (node: { role: NodeRole; index: number }, after: pulumi.Resource[]) => T,
): T[][] {
  const out: T[][] = [];
  let previous = start;
  for (const wave of waves) {
    const steps = wave.map((node) => make(node, previous));
    out.push(steps);
    previous = steps;
  }
  return out;
}

export { rolloutWaves };
