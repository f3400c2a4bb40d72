/**
 * The shell scripts of the day 2 roll-out steps (components/cluster/rollout.ts).
 * Every script is the same for every node: plain per-node values come from
 * the environment; the secrets (talosconfig, machine config) come on stdin
 * and go, through shell builtins only, into 0600 files in a 0700 temp
 * directory. Never into argv, where `ps` and the command provider's logs
 * would show them, nor into the environment, which would make every plain
 * value of the step a secret too (and hide from review what changed).
 * Pure text; tests run them against test/support/talosctl-recording-standin.
 */
import { b64 } from "../../plan/base64";

/** stdin of a step: base64 of the talosconfig on line 1, of the machine config (apply steps) on line 2. */
export function rolloutStdin(talosconfig: string, machineConfig?: string): string {
  return `${b64(talosconfig)}\n${machineConfig === undefined ? "" : b64(machineConfig)}\n`;
}

/** Environment variables the scripts read. */
export const ROLLOUT_ENV = {
  cluster: "SKE_CLUSTER",
  nodeName: "SKE_NODE_NAME",
  node: "SKE_NODE",
  role: "SKE_NODE_ROLE",
  controlPlaneNodes: "SKE_CONTROL_PLANE_NODES",
  workerNodes: "SKE_WORKER_NODES",
  /** cp-0: never removed by a scale-down, so it can judge etcd quorum while another member leaves. */
  anchor: "SKE_ANCHOR_NODE",
  talosVersion: "SKE_TALOS_VERSION",
  installerImage: "SKE_INSTALLER_IMAGE",
  kubernetesVersion: "SKE_KUBERNETES_VERSION",
  /** Prefix of the plain audit/OIDC evidence of the config this step applies, one variable per field; printed once the node runs it. */
  evidencePrefix: "SKE_EVIDENCE_",
} as const;

/** The environment variable of one evidence field, e.g. oidc-issuers → SKE_EVIDENCE_OIDC_ISSUERS. */
export const evidenceVariable = (field: string) =>
  `${ROLLOUT_ENV.evidencePrefix}${field.toUpperCase().replace(/-/g, "_")}`;

/** Gate retries: a node rebooting after apply-config or an upgrade refuses connections for a while. */
export const GATE_ENV = { attempts: "SKE_GATE_ATTEMPTS", interval: "SKE_GATE_INTERVAL" } as const;

/** Marks the evidence line on a step's stdout. */
export const EVIDENCE_MARK = "ske-applied-evidence ";

const E = ROLLOUT_ENV;

function preamble(): string[] {
  return [
    "set -eu",
    "if ! command -v talosctl >/dev/null 2>&1; then",
    `  echo "talosctl is not on PATH: install it on the machine that runs pulumi (the deploy runner) to change \${${E.cluster}}" >&2`,
    "  exit 127",
    "fi",
    "umask 077",
    'work="$(mktemp -d)"',
    "trap 'rm -rf \"$work\"' EXIT",
    'config="$work/talosconfig"',
    'machine="$work/machine.yaml"',
    // read and printf are builtins: the base64 text never reaches an argv.
    "IFS= read -r talosconfig_b64 || true",
    "IFS= read -r machine_b64 || true",
    `printf '%s' "$talosconfig_b64" | base64 -d > "$config" || { echo "no talosconfig on stdin for \${${E.cluster}}" >&2; exit 1; }`,
    `stop() { echo "roll-out stopped at node \${${E.nodeName}} (\${${E.node}}) of cluster \${${E.cluster}}: $1; nodes after it are untouched" >&2; exit 1; }`,
    // Talks to one node through itself: apid on the node answers for it.
    `on_node() { talosctl --talosconfig "$config" --endpoints "\${${E.node}}" --nodes "\${${E.node}}" "$@"; }`,
    // The health gate: etcd healthy with every control-plane node a member, apid and kubelet up, every node Ready.
    "gate() {",
    "  attempt=0",
    `  until on_node health --control-plane-nodes "\${${E.controlPlaneNodes}}" --worker-nodes "\${${E.workerNodes}}" --wait-timeout 5m; do`,
    "    attempt=$((attempt + 1))",
    `    if [ "$attempt" -ge "\${${GATE_ENV.attempts}:-30}" ]; then stop "health gate failed $1 (etcd quorum, every node back and Ready)"; fi`,
    `    sleep "\${${GATE_ENV.interval}:-10}"`,
    "  done",
    "}",
  ];
}

/**
 * Applies the machine config to one node: the cluster must be healthy
 * before the node is touched (so at most this one etcd member is away), and
 * healthy again, with this node back and Ready, before the step succeeds.
 * Create (a new node, or a step first added to a running cluster) runs the
 * same: applying the config a node already runs changes nothing.
 */
export function applyConfigScript(): string {
  return [
    ...preamble(),
    `printf '%s' "$machine_b64" | base64 -d > "$machine"`,
    '[ -s "$machine" ] || stop "no machine config on stdin"',
    'gate "before applying the machine config"',
    'on_node apply-config --file "$machine" --mode auto || stop "apply-config was refused"',
    'gate "after applying the machine config"',
    // The environment holds no secret (those come on stdin), so env may print it.
    `env | grep '^${E.evidencePrefix}' | sort | sed 's/^/${EVIDENCE_MARK}/' || true`,
    "",
  ].join("\n");
}

/**
 * Upgrades Talos on one node when the version it runs is not the desired
 * one. The running version is read back from the node, so a wrong record in
 * the stack file cannot push a node across minor releases or downgrade it.
 * With the version already right it only passes the gate: for a new node,
 * that is the wait until it has joined (etcd member, Ready).
 */
export function talosUpgradeScript(): string {
  return [
    ...preamble(),
    `desired="v\${${E.talosVersion}#v}"`,
    'running="$(on_node version --short | awk \'/^Server:/ { server = 1 } server && $1 == "Tag:" { print $2; exit }\')" || running=""',
    'if [ -z "$running" ]; then',
    '  gate "before reading its Talos version"',
    '  running="$(on_node version --short | awk \'/^Server:/ { server = 1 } server && $1 == "Tag:" { print $2; exit }\')" || running=""',
    '  [ -n "$running" ] || stop "could not read the Talos version it runs"',
    "fi",
    'if [ "$running" = "$desired" ]; then gate "with Talos $desired"; exit 0; fi',
    'parts() { echo "${1#v}" | awk -F. \'{ printf "%d %d %d", $1, $2, $3 }\'; }',
    'set -- $(parts "$running"); rmaj=$1; rmin=$2; rpatch=$3',
    'set -- $(parts "$desired"); dmaj=$1; dmin=$2; dpatch=$3',
    'if [ "$dmaj" -lt "$rmaj" ] || { [ "$dmaj" -eq "$rmaj" ] && { [ "$dmin" -lt "$rmin" ] || { [ "$dmin" -eq "$rmin" ] && [ "$dpatch" -lt "$rpatch" ]; }; }; }; then',
    '  stop "it runs Talos $running, newer than $desired: pulumi up does not downgrade"',
    "fi",
    'if [ "$dmaj" -ne "$rmaj" ] || [ "$dmin" -gt $((rmin + 1)) ]; then',
    '  stop "it runs Talos $running; $desired skips a minor release (one minor at a time)"',
    "fi",
    'gate "before the Talos upgrade"',
    `on_node upgrade --image "\${${E.installerImage}}" --wait --timeout 15m || stop "talosctl upgrade to $desired failed"`,
    'gate "after the Talos upgrade to $desired"',
    "",
  ].join("\n");
}

/**
 * Upgrades Kubernetes once for the whole cluster, through the anchor node:
 * `talosctl upgrade-k8s` itself walks the control plane node by node, then
 * the kubelets, and refuses an unsupported version path.
 */
export function kubernetesUpgradeScript(): string {
  return [
    ...preamble(),
    'gate "before the Kubernetes upgrade"',
    `on_node upgrade-k8s --to "\${${E.kubernetesVersion}}" || stop "talosctl upgrade-k8s to \${${E.kubernetesVersion}} failed"`,
    'gate "after the Kubernetes upgrade"',
    "",
  ].join("\n");
}

/**
 * Runs before a removed node's instance is deleted (the step depends on the
 * instance, so the engine deletes the step first). A control-plane node
 * leaves etcd while the quorum can still agree, judged from the anchor; a
 * worker is cordoned and drained. cp-0 goes only with its whole cluster.
 */
export function removeNodeScript(): string {
  return [
    ...preamble(),
    `on_anchor() { talosctl --talosconfig "$config" --endpoints "\${${E.anchor}}" --nodes "\${${E.anchor}}" "$@"; }`,
    `if [ "\${${E.node}}" = "\${${E.anchor}}" ]; then exit 0; fi`,
    `if [ "\${${E.role}}" = controlplane ]; then`,
    '  on_anchor etcd members || stop "etcd has no quorum before the node leaves"',
    '  on_node etcd leave || stop "it could not leave etcd; the instance is kept"',
    '  on_anchor etcd members || stop "etcd lost its quorum after the node left"',
    "else",
    '  on_node reset --graceful=true --reboot=false || stop "it could not be cordoned and drained; the instance is kept"',
    "fi",
    "",
  ].join("\n");
}
