/**
 * The deploy runners' part of the stack-file schema (`ske-platform:runners`)
 * and its cross-key rules; config/schema.ts puts it in the one schema.
 */
import { z } from "zod";
import { DEFAULT_TOOL_PINS } from "../plan/deploy-runner-tools";
import { DEPLOY_RUNNER_WORKFLOWS } from "../plan/deploy-runners";
import { uuid } from "./scalars";

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, {
  message:
    "expected the SHA-256 of the release artifact as 64 lower-case hex digits, from the project's published checksums",
});
const toolPinSchema = z.strictObject({
  version: z
    .string()
    .regex(/^\d+\.\d+\.\d+$/, { message: "expected an exact release version such as 1.2.3 (no v, no range)" }),
  sha256: sha256Hex,
});

/** Tools of the deploy runners, each pinned by version and checksum; see plan/deploy-runner-tools.ts. */
export const runnerToolsSchema = z.strictObject({
  talosctl: toolPinSchema.default(DEFAULT_TOOL_PINS.talosctl),
  node: toolPinSchema.default(DEFAULT_TOOL_PINS.node),
  actionsRunner: toolPinSchema.default(DEFAULT_TOOL_PINS.actionsRunner),
  /** No default: no published checksum of the SDK's release was at hand, so the stack file states it. */
  pulumi: toolPinSchema,
});

/** The self-hosted deploy runners of this environment (components/deploy-runner). */
export const deployRunnersSchema = z.strictObject({
  count: z
    .number()
    .int()
    .min(1, { message: "at least one runner" })
    .max(4, { message: "at most 4 runners fit the reserved head of the ops site's subnet (offsets 12-15)" })
    .default(1),
  flavor: z.string().min(1),
  /** A Debian cloud image; defaults to the ops site's jumpHostImageId. */
  imageId: uuid.optional(),
  /**
   * The GitHub App that mints a just-in-time runner config before every job.
   * Plain ids; its private key is the secret `ske-platform:runnerRegistrarKey`.
   */
  registration: z
    .strictObject({
      /** Numeric id of the IaC repository (`gh api repos/<owner>/<repo> --jq .id`); no lookup at preview. */
      repositoryId: z.number().int().positive(),
      appId: z.number().int().positive(),
      installationId: z.number().int().positive(),
    })
    .optional(),
  /**
   * Workflow files (on main) the runner group accepts jobs from, or "any" for
   * a group with no workflow restriction. Only test may say "any": its
   * pull-request previews run from refs/pull/<n>/merge, which no entry can name.
   */
  workflows: z
    .union([
      z.literal("any"),
      z
        .array(
          z.string().regex(/^[A-Za-z0-9_.-]+\.ya?ml$/, { message: "expected a workflow file name such as drift.yml" }),
        )
        .min(1),
    ])
    .default([...DEPLOY_RUNNER_WORKFLOWS]),
  tools: runnerToolsSchema,
});

export type DeployRunnersConfig = z.infer<typeof deployRunnersSchema>;

const minor = (version: string) => version.replace(/^v/, "").split(".").slice(0, 2).join(".");

/** Cross-key rules of the runner settings. */
export function deployRunnerIssues(config: {
  environment?: string;
  layers: { clusters: boolean };
  clusters: { talosVersion: string };
  runners?: DeployRunnersConfig | undefined;
  runnerRegistrarKey?: string | undefined;
}): Array<{ path: (string | number)[]; message: string }> {
  const issues: Array<{ path: (string | number)[]; message: string }> = [];
  if (!config.runners) {
    if (config.layers.clusters) {
      issues.push({
        path: ["runners"],
        message:
          "required while layers.clusters is on: deploys reach the clusters only from this environment's runners (flavor and tools.pulumi at least)",
      });
    }
    return issues;
  }
  const talosctl = config.runners.tools.talosctl.version;
  if (minor(talosctl) !== minor(config.clusters.talosVersion)) {
    issues.push({
      path: ["runners", "tools", "talosctl", "version"],
      message: `talosctl ${talosctl} does not match clusters.talosVersion ${config.clusters.talosVersion}; pin the same minor release (with its checksum)`,
    });
  }
  if (config.runners.workflows === "any" && config.environment !== undefined && config.environment !== "test") {
    issues.push({
      path: ["runners", "workflows"],
      message: `${config.environment}'s runner group must name the workflows it serves (allowed: a list of workflow files on main, default ${DEPLOY_RUNNER_WORKFLOWS.join(", ")}); "any" would let a job on any branch run inside ${config.environment}'s network with no approval`,
    });
  }
  if (config.runnerRegistrarKey !== undefined && !config.runners.registration) {
    issues.push({
      path: ["runners", "registration"],
      message: "runnerRegistrarKey is set, but not the GitHub App it belongs to (repositoryId, appId, installationId)",
    });
  }
  return issues;
}
