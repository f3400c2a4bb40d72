/**
 * Day 2 on running clusters, as plain data: the order in which nodes are
 * touched, which version moves are allowed, which site removals are. No
 * Pulumi here; components/cluster/rollout.ts turns the order into
 * dependsOn chains of per-node steps, and config/rollout.ts turns the
 * problems into config refusals.
 */
import { parseVersion } from "./versions";

export type NodeRole = "controlplane" | "worker";

export interface RolloutNode {
  role: NodeRole;
  index: number;
}

/**
 * Waves of nodes, each touched only after the whole previous wave passed its
 * health gate. Control-plane nodes go one per wave, so at most one etcd
 * member is ever away; workers go in batches of at most `workerBatchSize`.
 */
export function rolloutWaves(
  counts: { controlPlane: number; worker: number },
  workerBatchSize: number,
): RolloutNode[][] {
  if (!Number.isInteger(workerBatchSize) || workerBatchSize < 1)
    throw new Error(`workerBatchSize must be a positive integer, got ${workerBatchSize}`);
  const waves: RolloutNode[][] = Array.from({ length: counts.controlPlane }, (_, index) => [
    { role: "controlplane" as const, index },
  ]);
  for (let start = 0; start < counts.worker; start += workerBatchSize) {
    const end = Math.min(start + workerBatchSize, counts.worker);
    waves.push(Array.from({ length: end - start }, (_, i) => ({ role: "worker" as const, index: start + i })));
  }
  return waves;
}

/**
 * Control-plane nodes below this index form the initial etcd quorum and are
 * created together (bootstrap needs them). Every node from here on is created
 * only after the previous one has joined etcd and passed its gate, so a
 * 3 → 5 growth adds one member at a time.
 */
export const INITIAL_QUORUM = 3;

/** The index of the control-plane node whose gate must pass before this one is created, or undefined. */
export function joinsAfter(index: number): number | undefined {
  return index >= INITIAL_QUORUM ? index - 1 : undefined;
}

/**
 * Why moving a running cluster from `deployed` to `desired` is not one
 * supported step, or undefined. Talos upgrades one minor release at a time
 * (Sidero's upgrade notes) and Kubernetes one minor at a time (the version
 * skew policy; `talosctl upgrade-k8s` refuses more). Neither is rolled
 * back by `pulumi up`: a downgrade is an operator's decision (`talosctl
 * rollback`), not a config edit.
 */
export function versionMoveProblem(
  product: "Talos" | "Kubernetes",
  deployed: string,
  desired: string,
): string | undefined {
  const from = parseVersion(deployed);
  const to = parseVersion(desired);
  if (!from || !to) return undefined; // The schema reports malformed versions.
  const older =
    to.major < from.major ||
    (to.major === from.major && (to.minor < from.minor || (to.minor === from.minor && to.patch < from.patch)));
  if (older) {
    return `${product} ${desired} is older than the deployed ${deployed}: pulumi up does not downgrade a running cluster`;
  }
  if (to.major !== from.major || to.minor > from.minor + 1) {
    const next = `${from.major}.${from.minor + 1}`;
    return `${product} ${deployed} → ${desired} skips minor releases: ${product} upgrades one minor at a time; deploy ${next}.x first, then record it as deployed`;
  }
  return undefined;
}

/** The Talos installer image `talosctl upgrade` installs; the machine config's install.image names the same. */
export function installerImage(talosVersion: string): string {
  return `ghcr.io/siderolabs/installer:${talosVersion.startsWith("v") ? talosVersion : `v${talosVersion}`}`;
}

/** Sites deployed but no longer configured, split by whether config declares them drained. */
export function removedSites(
  deployed: readonly string[],
  configured: readonly string[],
  drained: readonly string[],
): { drained: string[]; notDrained: string[] } {
  const gone = deployed.filter((s) => !configured.includes(s));
  return { drained: gone.filter((s) => drained.includes(s)), notDrained: gone.filter((s) => !drained.includes(s)) };
}
