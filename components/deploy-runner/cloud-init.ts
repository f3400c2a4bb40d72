/**
 * The deploy runner's cloud-init. It holds no secret: the registrar key
 * arrives later over SSH (see index.ts), so user data, the Nova metadata
 * service and state show nothing a job could register with.
 */
import { stringify } from "yaml";
import { DEFAULT_TOOL_PINS, TOOL_ARTIFACTS, type ToolName, type ToolPin } from "../../plan/deploy-runner-tools";

export type RunnerTools = Record<ToolName, ToolPin>;

export interface DeployRunnerCloudInitInput {
  /** GitHub organisation that owns the runner group. */
  organization: string;
  /** Org runner group of this environment; the registrar looks its id up by name. */
  runnerGroup: string;
  /** The label deploy jobs ask for; must equal deployRunnerLabel(environment). */
  label: string;
  /** GitHub App that mints just-in-time runner configs; absent until registration is configured. */
  app?: { appId: number; installationId: number };
  /** OpenSSH public key whose only power is the forced command that stores the registrar key. */
  registrarPublicKey: string;
  tools: RunnerTools;
}

export const REGISTRAR_USER = "ske-registrar";
export const REGISTRAR_HOME = "/var/lib/ske-registrar";
export const REGISTRAR_KEY_FILE = `${REGISTRAR_HOME}/app-key.pem`;
export const INSTALL_KEY_COMMAND = "/usr/local/sbin/ske-runner-install-key";
/** The job sandbox's state directory; wiped after every job. */
export const JOB_STATE_DIRECTORY = "ske-runner-job";
const TOOLS_PREFIX = "/opt/ske-tools";
const RUNNER_HOME = "/opt/actions-runner";
/** Written last by the tool install; the cycle runs no job without it. */
export const TOOLS_VERIFIED_MARKER = `${TOOLS_PREFIX}/.verified`;

const SHA256 = /^[0-9a-f]{64}$/;
const VERSION = /^\d+\.\d+\.\d+$/;

/** Downloads every tool and refuses any whose digest differs from its pin. */
export function installToolsScript(tools: RunnerTools): string {
  for (const [name, pin] of Object.entries(tools)) {
    if (!VERSION.test(pin.version)) throw new Error(`${name}: version "${pin.version}" is not an exact release`);
    if (!SHA256.test(pin.sha256)) throw new Error(`${name}: "${pin.sha256}" is not a SHA-256`);
  }
  const a = (name: ToolName) => ({ ...TOOL_ARTIFACTS[name](tools[name].version), sha256: tools[name].sha256 });
  const talosctl = a("talosctl");
  const node = a("node");
  const pulumi = a("pulumi");
  const runner = a("actionsRunner");
  const fetch = (t: { url: string; file: string; sha256: string }) => `fetch '${t.url}' '${t.file}' '${t.sha256}'`;
  return [
    "#!/bin/bash",
    "# Installs the runner's tools at the pinned versions. A digest that differs",
    "# from its pin stops the install, and the runner service is never enabled.",
    "set -euo pipefail",
    "cache=/var/cache/ske-tools",
    `mkdir -p "$cache" ${TOOLS_PREFIX}/bin ${TOOLS_PREFIX}/node ${TOOLS_PREFIX}/pulumi ${RUNNER_HOME}`,
    "fetch() {",
    `  curl --fail --silent --show-error --location --proto '=https' --retry 3 --output "$cache/$2" "$1"`,
    `  printf '%s  %s\\n' "$3" "$cache/$2" | sha256sum --check --strict -`,
    "}",
    fetch(talosctl),
    `install -m 0755 "$cache/${talosctl.file}" ${TOOLS_PREFIX}/bin/talosctl`,
    fetch(node),
    `tar -xJf "$cache/${node.file}" -C ${TOOLS_PREFIX}/node --strip-components=1 --no-same-owner`,
    `for tool in node npm npx; do ln -sf ${TOOLS_PREFIX}/node/bin/$tool ${TOOLS_PREFIX}/bin/$tool; done`,
    fetch(pulumi),
    `tar -xzf "$cache/${pulumi.file}" -C ${TOOLS_PREFIX}/pulumi --strip-components=1 --no-same-owner`,
    `for tool in ${TOOLS_PREFIX}/pulumi/*; do ln -sf "$tool" ${TOOLS_PREFIX}/bin/; done`,
    fetch(runner),
    `tar -xzf "$cache/${runner.file}" -C ${RUNNER_HOME} --no-same-owner`,
    `${RUNNER_HOME}/bin/installdependencies.sh`,
    // Root-owned and read-only for jobs; each job works on its own copy.
    `chown -R root:root ${TOOLS_PREFIX} ${RUNNER_HOME}`,
    `chmod -R go-w ${TOOLS_PREFIX} ${RUNNER_HOME}`,
    'rm -rf "$cache"',
    `touch ${TOOLS_VERIFIED_MARKER}`,
    "",
  ].join("\n");
}

/** Forced command of the registrar's SSH key: stores the PEM read from stdin, echoes none of it. */
export function installKeyScript(): string {
  return [
    "#!/bin/bash",
    "set -euo pipefail",
    "umask 077",
    `tmp="$(mktemp ${REGISTRAR_HOME}/.key.XXXXXX)"`,
    `trap 'rm -f "$tmp"' EXIT`,
    'head -c 16384 > "$tmp"',
    'if ! openssl pkey -in "$tmp" -noout 2>/dev/null; then',
    '  echo "refused: stdin is not a PEM private key" >&2',
    "  exit 1",
    "fi",
    `mv "$tmp" ${REGISTRAR_KEY_FILE}`,
    'echo "registrar key installed"',
    "",
  ].join("\n");
}

/**
 * Runs as the registrar user: signs an App JWT, trades it for an installation
 * token and mints one just-in-time config for a single ephemeral runner in
 * this environment's group. Prints only that config. Credentials reach curl
 * through its config on stdin, never through argv, where `ps` would show them.
 */
export function mintScript(): string {
  return [
    "#!/bin/bash",
    "set -euo pipefail",
    ". /etc/ske-runner/runner.env",
    `key=${REGISTRAR_KEY_FILE}`,
    "b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }",
    "now=$(date +%s)",
    `header=$(printf '{"alg":"RS256","typ":"JWT"}' | b64url)`,
    `payload=$(printf '{"iat":%d,"exp":%d,"iss":"%s"}' "$((now - 60))" "$((now + 540))" "$SKE_APP_ID" | b64url)`,
    `signature=$(printf '%s.%s' "$header" "$payload" | openssl dgst -sha256 -sign "$key" -binary | b64url)`,
    "api() {",
    '  local bearer="$1"; shift',
    `  printf 'header = "Authorization: Bearer %s"\\n' "$bearer" | curl --fail --silent --show-error --proto '=https' --config - \\`,
    `    -H 'Accept: application/vnd.github+json' -H 'X-GitHub-Api-Version: 2022-11-28' "$@"`,
    "}",
    `token=$(api "$header.$payload.$signature" -X POST "https://api.github.com/app/installations/$SKE_INSTALLATION_ID/access_tokens" | jq -er .token)`,
    `group=$(api "$token" "https://api.github.com/orgs/$SKE_ORG/actions/runner-groups?per_page=100" | jq -er --arg name "$SKE_RUNNER_GROUP" '.runner_groups[] | select(.name == $name) | .id')`,
    `body=$(jq -cn --arg name "$SKE_RUNNER_LABEL-$(hostname -s)-$now" --arg label "$SKE_RUNNER_LABEL" --argjson group "$group" \\`,
    `  '{name: $name, runner_group_id: $group, labels: ["self-hosted", $label], work_folder: "_work"}')`,
    `api "$token" -X POST "https://api.github.com/orgs/$SKE_ORG/actions/runners/generate-jitconfig" --data "$body" | jq -er .encoded_jit_config`,
    "",
  ].join("\n");
}

/**
 * The sandbox of one job: a user that exists only while the job runs, a
 * private /tmp and /dev, a fresh state directory, no capabilities, no way to
 * gain privileges, the registrar's files invisible. Nothing it can write
 * outlives it: the cycle removes the state directory afterwards.
 */
export const JOB_SANDBOX_PROPERTIES: readonly string[] = [
  "DynamicUser=yes",
  `StateDirectory=${JOB_STATE_DIRECTORY}`,
  "PrivateTmp=yes",
  "PrivateDevices=yes",
  "NoNewPrivileges=yes",
  "ProtectSystem=strict",
  "ProtectHome=yes",
  "ProtectKernelTunables=yes",
  "ProtectKernelModules=yes",
  "ProtectControlGroups=yes",
  "RestrictSUIDSGID=yes",
  "RemoveIPC=yes",
  "CapabilityBoundingSet=",
  `InaccessiblePaths=${REGISTRAR_HOME}`,
  "RuntimeMaxSec=6h",
];

/** Root's loop: one pass = mint, run one job in a fresh sandbox, wipe. systemd starts the next pass. */
export function cycleScript(): string {
  return [
    "#!/bin/bash",
    "set -euo pipefail",
    `if [ ! -e ${TOOLS_VERIFIED_MARKER} ]; then echo "tools not installed and verified; no job runs" >&2; exit 1; fi`,
    `if [ ! -s ${REGISTRAR_KEY_FILE} ]; then`,
    '  echo "no registrar key yet: pulumi up delivers it from the jump host" >&2',
    "  sleep 60",
    "  exit 0",
    "fi",
    "umask 077",
    "install -d -m 0700 /run/ske-runner",
    "jit=/run/ske-runner/jit",
    `trap 'rm -f "$jit"; rm -rf /var/lib/private/${JOB_STATE_DIRECTORY} /var/lib/${JOB_STATE_DIRECTORY}' EXIT`,
    `runuser -u ${REGISTRAR_USER} -- /usr/local/libexec/ske-runner-mint > "$jit"`,
    `systemd-run --wait --collect --quiet --unit "ske-runner-job-$(date +%s)" \\`,
    ...JOB_SANDBOX_PROPERTIES.map((p) => `  --property='${p}' \\`),
    `  --property="LoadCredential=jit:$jit" \\`,
    '  /usr/local/libexec/ske-runner-job || echo "job sandbox ended with status $?" >&2',
    "",
  ].join("\n");
}

/** Runs inside the sandbox as the job's throw-away user. */
export function jobScript(): string {
  return [
    "#!/bin/bash",
    "set -euo pipefail",
    `export HOME="$STATE_DIRECTORY/home" PATH="${TOOLS_PREFIX}/bin:/usr/local/bin:/usr/bin:/bin"`,
    'mkdir -p "$HOME" "$STATE_DIRECTORY/runner"',
    `cp -a --no-preserve=ownership ${RUNNER_HOME}/. "$STATE_DIRECTORY/runner/"`,
    // The config is single-use: GitHub removes the runner after its one job.
    'exec "$STATE_DIRECTORY/runner/run.sh" --jitconfig "$(cat "$CREDENTIALS_DIRECTORY/jit")"',
    "",
  ].join("\n");
}

export function deployRunnerCloudInit(input: DeployRunnerCloudInitInput): string {
  if (!/^ssh-ed25519 \S+( [^\n]*)?$/.test(input.registrarPublicKey.trim())) {
    throw new Error("the registrar key must be an OpenSSH ed25519 public key");
  }
  const env = [
    `SKE_ORG=${input.organization}`,
    `SKE_RUNNER_GROUP=${input.runnerGroup}`,
    `SKE_RUNNER_LABEL=${input.label}`,
    `SKE_APP_ID=${input.app?.appId ?? ""}`,
    `SKE_INSTALLATION_ID=${input.app?.installationId ?? ""}`,
    "",
  ].join("\n");
  const document = {
    package_update: true,
    package_upgrade: true,
    packages: ["ca-certificates", "curl", "git", "jq", "openssl", "xz-utils"],
    ssh_pwauth: false,
    disable_root: true,
    // No default user and no Nova keypair: the only login is the registrar's forced command.
    users: [
      {
        // Not a system user: cloud-init creates no home for those, and sshd needs one for the key.
        name: REGISTRAR_USER,
        homedir: REGISTRAR_HOME,
        shell: "/bin/bash",
        lock_passwd: true,
        ssh_authorized_keys: [`restrict,command="${INSTALL_KEY_COMMAND}" ${input.registrarPublicKey.trim()}`],
      },
    ],
    write_files: [
      {
        path: "/etc/ssh/sshd_config.d/50-ske.conf",
        permissions: "0644",
        content: [
          `AllowUsers ${REGISTRAR_USER}`,
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "PermitRootLogin no",
          "AllowAgentForwarding no",
          "AllowTcpForwarding no",
          "X11Forwarding no",
          "PermitTunnel no",
          "",
        ].join("\n"),
      },
      { path: "/etc/ske-runner/runner.env", permissions: "0644", content: env },
      { path: INSTALL_KEY_COMMAND, permissions: "0755", content: installKeyScript() },
      { path: "/usr/local/sbin/ske-install-tools", permissions: "0700", content: installToolsScript(input.tools) },
      { path: "/usr/local/sbin/ske-runner-cycle", permissions: "0700", content: cycleScript() },
      { path: "/usr/local/libexec/ske-runner-mint", permissions: "0755", content: mintScript() },
      { path: "/usr/local/libexec/ske-runner-job", permissions: "0755", content: jobScript() },
      {
        path: "/etc/systemd/system/ske-runner-cycle.service",
        permissions: "0644",
        content: [
          "[Unit]",
          "Description=One ephemeral GitHub Actions job per pass, each in a fresh sandbox",
          "After=network-online.target",
          "Wants=network-online.target",
          "StartLimitIntervalSec=0",
          "",
          "[Service]",
          "ExecStart=/usr/local/sbin/ske-runner-cycle",
          "Restart=always",
          // A GitHub outage must not turn the loop into a flood of API calls.
          "RestartSec=15",
          "",
          "[Install]",
          "WantedBy=multi-user.target",
          "",
        ].join("\n"),
      },
    ],
    runcmd: [
      ["chmod", "0700", REGISTRAR_HOME],
      ["systemctl", "restart", "ssh"],
      // runcmd does not stop at a failed line, so the chain does: no verified tools, no runner.
      [
        "sh",
        "-c",
        "/usr/local/sbin/ske-install-tools && systemctl daemon-reload && systemctl enable --now ske-runner-cycle.service",
      ],
    ],
  };
  return `#cloud-config\n${stringify(document, { lineWidth: 0 })}`;
}

export { DEFAULT_TOOL_PINS };
