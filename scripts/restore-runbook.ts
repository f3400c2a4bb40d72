/**
 * Prints the etcd restore runbook of one cluster (docs/operations/restore.md),
 * from the committed stack file and the cluster's control-plane addresses:
 *
 *   npm run restore-runbook -- --stack production --cluster production-osl2-ops \
 *     --control-plane "$(pulumi stack output clusters --stack production --json | jq -r '.["production-osl2-ops"].nodeAddresses.controlPlane | join(",")')"
 */
import * as path from "node:path";
import { parseArgs } from "node:util";
import { REPO_ROOT, loadPlatformConfig, readAddressPlan } from "../config/load";
import { renderRestoreRunbook, type RestoreInput } from "../plan/etcd-backup";
import { buildPlatformPlan } from "../plan/platform-plan";
import { readStackFile } from "../config/stack-file";

/** The runbook's input for `cluster` of `stack`, or an error naming what is missing. */
export function restoreInputFor(
  stack: string,
  cluster: string,
  controlPlane: readonly string[],
  file = path.join(REPO_ROOT, `Pulumi.${stack}.yaml`),
): RestoreInput {
  const { config, addressPlan } = loadPlatformConfig(readStackFile(file, stack), readAddressPlan());
  const planned = buildPlatformPlan(config, addressPlan).clusters.find((c) => c.name === cluster);
  if (!planned) throw new Error(`${stack} has no cluster ${cluster}`);
  const storage = config.backups?.sites[planned.site];
  if (!storage)
    throw new Error(
      `${stack}: backups.sites.${planned.site} is not configured, so ${cluster} has no backups to restore from`,
    );
  return {
    environment: config.environment,
    cluster,
    site: planned.site,
    endpoint: storage.endpoint,
    bucket: storage.bucket,
    region: config.sites[planned.site]!.region,
    controlPlane,
  };
}

function main(): number {
  const { values } = parseArgs({
    options: { stack: { type: "string" }, cluster: { type: "string" }, "control-plane": { type: "string" } },
  });
  if (!values.stack || !values.cluster || !values["control-plane"]) {
    process.stderr.write(
      "usage: npm run restore-runbook -- --stack <env> --cluster <name> --control-plane <ip,ip,ip>\n",
    );
    return 64;
  }
  const addresses = values["control-plane"]
    .split(",")
    .map((a) => a.trim())
    .filter(Boolean);
  process.stdout.write(renderRestoreRunbook(restoreInputFor(values.stack, values.cluster, addresses)));
  return 0;
}

// Run as a script (npm run restore-runbook), not when a test imports restoreInputFor.
if (path.basename(process.argv[1] ?? "") === "restore-runbook.ts") {
  try {
    process.exitCode = main();
  } catch (err) {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
