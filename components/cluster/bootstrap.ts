/**
 * `talosctl bootstrap`, exactly once per cluster. The talosconfig travels
 * only in an environment variable and a private temp file: never in argv,
 * where `ps` and shell history would show it.
 */
import * as command from "@pulumi/command";
import * as pulumi from "@pulumi/pulumi";

/** Environment variables the script reads. */
export const BOOTSTRAP_ENV = {
  talosconfig: "SKE_TALOSCONFIG",
  node: "SKE_BOOTSTRAP_NODE",
  cluster: "SKE_CLUSTER",
} as const;

/**
 * The script is the same for every cluster: all per-cluster values come from
 * the environment. The node may still be booting, so the first calls are
 * retried for up to ten minutes.
 */
export function bootstrapScript(): string {
  const { talosconfig, node, cluster } = BOOTSTRAP_ENV;
  return [
    "set -eu",
    "if ! command -v talosctl >/dev/null 2>&1; then",
    `  echo "talosctl is not on PATH: install it on the machine that runs pulumi (the jump host) to bootstrap \${${cluster}}" >&2`,
    "  exit 127",
    "fi",
    "umask 077",
    'config="$(mktemp)"',
    "trap 'rm -f \"$config\"' EXIT",
    `printf '%s' "\${${talosconfig}}" > "$config"`,
    "attempt=0",
    `until talosctl --talosconfig "$config" --endpoints "\${${node}}" --nodes "\${${node}}" bootstrap; do`,
    "  attempt=$((attempt + 1))",
    `  if [ "$attempt" -ge 60 ]; then echo "bootstrap of \${${cluster}} failed after $attempt attempts" >&2; exit 1; fi`,
    "  sleep 10",
    "done",
    "",
  ].join("\n");
}

export interface BootstrapArgs {
  clusterName: string;
  /** First control-plane node: where etcd is bootstrapped. */
  node: pulumi.Input<string>;
  talosconfig: pulumi.Input<string>;
  /**
   * What makes this a new cluster. Only a change here runs the bootstrap
   * again: a replaced single node must join the existing etcd, never found a
   * second one.
   */
  identity: pulumi.Input<string>[];
}

export function bootstrapCommand(
  name: string,
  args: BootstrapArgs,
  opts: pulumi.CustomResourceOptions,
): command.local.Command {
  return new command.local.Command(
    name,
    {
      create: bootstrapScript(),
      // No update and no delete: an edit of the script or a new node address must not re-run it.
      environment: {
        [BOOTSTRAP_ENV.talosconfig]: pulumi.secret(args.talosconfig),
        [BOOTSTRAP_ENV.node]: args.node,
        [BOOTSTRAP_ENV.cluster]: args.clusterName,
      },
      triggers: args.identity,
      logging: "stderr",
    },
    {
      ...opts,
      ignoreChanges: ["create", "environment", "interpreter", "logging"],
    },
  );
}
