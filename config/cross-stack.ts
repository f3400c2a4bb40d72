/**
 * Checks that span the committed stack files. Repository-wide settings
 * (branch protection of main, team access, CODEOWNERS) must be owned by
 * exactly one stack: with none, main is unprotected; with two, each `up`
 * rewrites the other's settings and a weaker stack can overwrite a
 * stronger one.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { ENVIRONMENTS } from "../plan/address-plan";
import { foreignProjects, type ProjectPlan } from "../plan/project-plan";
import type { EnvironmentName } from "../plan/address-plan";
import { CONFIG_NAMESPACE } from "./schema";

export interface StackOwnership {
  stack: string;
  file: string;
  owns: boolean;
  /** `endpoint/bucket` of the audit archive, when the file names one. */
  archive?: string;
  /** The archive's writer projects by cluster (audit.archive.writerProjects), when the file names them. */
  writerProjects?: Record<string, string>;
  /** The etcd backups' writer projects by cluster (backups.writerProjects), when the file names them. */
  backupWriterProjects?: Record<string, string>;
}

/** Whether each committed stack file claims the repository settings. */
export function committedOwnership(root: string): StackOwnership[] {
  return ENVIRONMENTS.flatMap((stack) => {
    const file = path.join(root, `Pulumi.${stack}.yaml`);
    if (!fs.existsSync(file)) return [];
    const doc = (parseYaml(fs.readFileSync(file, "utf8")) ?? {}) as { config?: Record<string, unknown> };
    const github = doc.config?.[`${CONFIG_NAMESPACE}:github`] as { ownsRepositorySettings?: unknown } | undefined;
    const archive = (
      doc.config?.[`${CONFIG_NAMESPACE}:audit`] as
        { archive?: { endpoint?: unknown; bucket?: unknown; writerProjects?: unknown } } | undefined
    )?.archive;
    const writers = archive?.writerProjects;
    const backupWriters = (doc.config?.[`${CONFIG_NAMESPACE}:backups`] as { writerProjects?: unknown } | undefined)
      ?.writerProjects;
    return [
      {
        stack,
        file: path.basename(file),
        owns: github?.ownsRepositorySettings === true,
        ...(typeof archive?.endpoint === "string" && typeof archive.bucket === "string"
          ? { archive: archiveId(archive.endpoint, archive.bucket) }
          : {}),
        ...(writers && typeof writers === "object"
          ? { writerProjects: Object.fromEntries(Object.entries(writers).map(([c, p]) => [c, String(p)])) }
          : {}),
        ...(backupWriters && typeof backupWriters === "object"
          ? { backupWriterProjects: Object.fromEntries(Object.entries(backupWriters).map(([c, p]) => [c, String(p)])) }
          : {}),
      },
    ];
  });
}

/**
 * The owners once `candidate` replaces the committed file of its stack (or
 * joins them, for a variant such as test-lab), and what is wrong with that.
 */
export function repositorySettingsProblem(
  candidate: StackOwnership,
  committed: readonly StackOwnership[],
): string | undefined {
  const stacks = [...committed.filter((s) => s.stack !== candidate.stack), candidate];
  const owners = stacks.filter((s) => s.owns);
  if (owners.length === 1) return undefined;
  if (owners.length === 0) {
    return `no stack owns the repository settings (${stacks.map((s) => s.file).join(", ")} all say false), so nothing protects main; set it to true in Pulumi.production.yaml only`;
  }
  return `${owners.length} stacks own the repository settings (${owners.map((s) => s.file).join(", ")}); exactly one may, or each deploy rewrites the other's branch protection`;
}

export function archiveId(endpoint: string, bucket: string): string {
  return `${endpoint.replace(/\/+$/, "")}/${bucket}`;
}

/**
 * Each environment archives into its own bucket: a shared bucket would let
 * one environment's collectors write into another's evidence.
 */
export function sharedArchiveProblem(
  candidate: StackOwnership,
  committed: readonly StackOwnership[],
): string | undefined {
  const env = candidate.stack.split("-")[0];
  const sharing = committed.filter(
    (s) => s.stack !== env && s.archive !== undefined && s.archive === candidate.archive,
  );
  if (sharing.length === 0) return undefined;
  return `${candidate.archive} is also the audit archive of ${sharing.map((s) => s.file).join(", ")}; each environment archives into its own bucket`;
}

/**
 * A writer project belongs to one environment: one shared with another
 * stack's collector could write under that environment's prefixes too, and
 * would not be denied by either bucket's policy.
 */
export function sharedWriterProblems(
  candidate: StackOwnership,
  committed: readonly StackOwnership[],
): { cluster: string; message: string }[] {
  const env = candidate.stack.split("-")[0];
  return Object.entries(candidate.writerProjects ?? {}).flatMap(([cluster, project]) => {
    const sharing = committed.filter(
      (s) => s.stack !== env && writerProjectsOf(s).some((p) => p.toLowerCase() === project.toLowerCase()),
    );
    return sharing.length === 0
      ? []
      : [
          {
            cluster,
            message: `project ${project} is also an archive writer in ${sharing.map((s) => s.file).join(", ")}; each environment's collectors write as projects of their own`,
          },
        ];
  });
}

/** Every writer project a stack file names: its archive writers and its etcd backup writers. */
export const writerProjectsOf = (s: StackOwnership): string[] => [
  ...Object.values(s.writerProjects ?? {}),
  ...Object.values(s.backupWriterProjects ?? {}),
];

/**
 * What every append-only bucket of the environment denies everything: the
 * other environments' declared projects and, because RGW sees each Keystone
 * project as a user of its own, their writer projects (archive and etcd
 * backups) from the committed stack files.
 */
export function foreignProjectIdsOf(
  environment: EnvironmentName,
  projects: ProjectPlan,
  committed: readonly StackOwnership[],
): string[] {
  const foreign = foreignProjects(projects, environment).map((p) => p.project.id);
  const foreignWriters = committed.filter((s) => s.stack !== environment).flatMap(writerProjectsOf);
  return [...new Set([...foreign, ...foreignWriters])];
}
