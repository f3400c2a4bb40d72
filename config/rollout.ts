/**
 * Day 2 settings and refusals (docs/decisions/day2-rollout.md): what a
 * running environment has, committed beside what it should have, so config
 * alone can refuse an unsupported upgrade or the removal of a site that is
 * still in use, before any resource is registered.
 */
import { z } from "zod";
import { siteNameString } from "../plan/address-plan";
import { removedSites, versionMoveProblem } from "../plan/rollout";
import { kubernetesVersionProblem, talosVersionProblem } from "../plan/versions";

const semver = z.string().regex(/^\d+\.\d+\.\d+$/, { message: "expected a version such as 1.11.5" });

export const rolloutSchema = z.strictObject({
  /**
   * What the last successful `pulumi up` left running. Updated by the same
   * reviewed change that follows a successful roll-out; the roll-out scripts
   * also read the running Talos version back from each node and refuse an
   * unsupported move even when this record is wrong.
   */
  deployed: z
    .strictObject({
      talosVersion: semver,
      kubernetesVersion: semver,
      sites: z.array(siteNameString).min(1),
    })
    .optional(),
  /** Workers touched at once by a roll-out or upgrade; each batch waits for the previous one's health gate. */
  workerBatchSize: z.number().int().min(1).max(10).default(1),
  /** Deployed sites whose removal is allowed: their workload clusters moved away and the management cluster is empty. */
  drainedSites: z.array(siteNameString).default([]),
});

export type RolloutConfig = z.infer<typeof rolloutSchema>;

export const DEFAULT_ROLLOUT: RolloutConfig = { workerBatchSize: 1, drainedSites: [] };

type Issue = { path: (string | number)[]; message: string };

interface RolloutInput {
  environment: string;
  sites: Record<string, { nodes: { worker: number } }>;
  clusters: { talosVersion: string; kubernetesVersion: string; ops: { nodes: { worker: number } } };
  rollout?: RolloutConfig | undefined;
}

export function rolloutIssues(config: RolloutInput): Issue[] {
  const issues: Issue[] = [];
  const rollout = config.rollout;
  if (!rollout?.deployed) {
    if (config.environment === "production") {
      issues.push({
        path: ["rollout", "deployed"],
        message:
          "production records what is deployed (talosVersion, kubernetesVersion, sites), so upgrades and site removals can be checked against it",
      });
    }
    return issues;
  }
  const { deployed } = rollout;
  // A version the renderers cannot handle is refused on its own (config/refusals.ts); a move to it says nothing more.
  const talos = talosVersionProblem(config.clusters.talosVersion)
    ? undefined
    : versionMoveProblem("Talos", deployed.talosVersion, config.clusters.talosVersion);
  if (talos) issues.push({ path: ["clusters", "talosVersion"], message: `${talos} (rollout.deployed.talosVersion)` });
  const kubernetes = kubernetesVersionProblem(config.clusters.kubernetesVersion, config.clusters.talosVersion)
    ? undefined
    : versionMoveProblem("Kubernetes", deployed.kubernetesVersion, config.clusters.kubernetesVersion);
  if (kubernetes)
    issues.push({
      path: ["clusters", "kubernetesVersion"],
      message: `${kubernetes} (rollout.deployed.kubernetesVersion)`,
    });

  const gone = removedSites(deployed.sites, Object.keys(config.sites), rollout.drainedSites);
  if (config.environment === "production") {
    for (const site of gone.notDrained) {
      issues.push({
        path: ["sites"],
        message: `site ${site} is deployed (rollout.deployed.sites) but no longer configured: removing it deletes its management cluster, nodes and network; production refuses this until rollout.drainedSites lists ${site} (its workload clusters moved away)`,
      });
    }
  }

  const pools = [
    ...Object.entries(config.sites).map(([site, s]) => ({
      where: `sites.${site}.nodes.worker`,
      workers: s.nodes.worker,
    })),
    { where: "clusters.ops.nodes.worker", workers: config.clusters.ops.nodes.worker },
  ];
  for (const pool of pools) {
    if (pool.workers > 1 && rollout.workerBatchSize >= pool.workers) {
      issues.push({
        path: ["rollout", "workerBatchSize"],
        message: `${rollout.workerBatchSize} would take all ${pool.workers} workers of ${pool.where} away at once; use at most ${pool.workers - 1}`,
      });
    }
  }
  return issues;
}
