/**
 * The tools a deploy runner installs, pinned by version and by the SHA-256 of
 * the exact release artifact. Each checksum below was taken from a published
 * source named beside it, never computed from an unverified download; cloud-init
 * refuses to install an artifact whose digest differs.
 */

export interface ToolPin {
  version: string;
  sha256: string;
}

export type ToolName = "talosctl" | "node" | "actionsRunner" | "pulumi";

/** Where each tool's artifact is fetched from, for a given version. Linux x86-64 only. */
export const TOOL_ARTIFACTS: Readonly<Record<ToolName, (version: string) => { url: string; file: string }>> = {
  talosctl: (v) => ({
    file: "talosctl-linux-amd64",
    url: `https://github.com/siderolabs/talos/releases/download/v${v}/talosctl-linux-amd64`,
  }),
  node: (v) => ({
    file: `node-v${v}-linux-x64.tar.xz`,
    url: `https://nodejs.org/dist/v${v}/node-v${v}-linux-x64.tar.xz`,
  }),
  actionsRunner: (v) => ({
    file: `actions-runner-linux-x64-${v}.tar.gz`,
    url: `https://github.com/actions/runner/releases/download/v${v}/actions-runner-linux-x64-${v}.tar.gz`,
  }),
  pulumi: (v) => ({
    file: `pulumi-v${v}-linux-x64.tar.gz`,
    url: `https://github.com/pulumi/pulumi/releases/download/v${v}/pulumi-v${v}-linux-x64.tar.gz`,
  }),
};

/**
 * Defaults for the tools whose published checksum we found. The Pulumi CLI
 * has none: it must follow the SDK in package.json, and no published digest
 * of that release was available to us, so the stack file must state it
 * (`runners.tools.pulumi`).
 */
export const DEFAULT_TOOL_PINS = {
  // talosctl v1.11.5, talosctl-linux-amd64: the sha256sums table of
  // cashapp/hermit-packages talosctl.hcl (commit f0517fd7532f), which Hermit
  // checks every download against. Matches clusters.talosVersion 1.11.5.
  talosctl: { version: "1.11.5", sha256: "9fc76cb0ee711dc16a03c777f2d71338b9692707de49ec916944c3e335963f67" },
  // Node v22.23.3, node-v22.23.3-linux-x64.tar.xz: a public release manifest
  // pinning archiveSha256 together with executableSha256
  // fde6a4bf8d0562f7751d1a2d6cb9b417c4cfe107bbcb0aa3e9a24e125e348f48; that
  // executable digest equals the Node 22.23.3 binary npm installs into this
  // repository's node_modules, which corroborates the manifest.
  node: { version: "22.23.3", sha256: "df450af89261115ef9f9e3830c3eeb2cc9213b63c720b1af623cb5dcbe2e02de" },
  // GitHub Actions runner v2.337.0, actions-runner-linux-x64-2.337.0.tar.gz:
  // the digest of the release notes, pinned identically by several
  // independent public install scripts.
  actionsRunner: { version: "2.337.0", sha256: "70920811a4f8ad4328818682bca5c6469c1c942fab52448868071d0063816613" },
} as const satisfies Record<Exclude<ToolName, "pulumi">, ToolPin>;
