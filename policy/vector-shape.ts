/**
 * The checks the audit collector and the platform-log collector share: both
 * are the vector chart, allowed one read-only host directory and a hardened
 * container. Each policy adds its own checks around these.
 */
import { at } from "./model";

/**
 * Host mounts beyond `hostDir`, or writable: the chart's default mounts and
 * a host-path data dir count too. `why` completes those two messages.
 */
export function vectorHostMountProblems(
  values: unknown,
  hostDir: string,
  why: { defaultMounts: string; dataDir: string } = { defaultMounts: "", dataDir: "" },
): string[] {
  const problems: string[] = [];
  for (const key of ["defaultVolumes", "defaultVolumeMounts"]) {
    const v = at(values, [key]);
    if (!Array.isArray(v) || v.length > 0) problems.push(`${key} must be set to []${why.defaultMounts}`);
  }
  if (at(values, ["persistence", "hostPath", "enabled"]) !== false)
    problems.push(`persistence.hostPath.enabled must be false${why.dataDir}`);
  const volumes = (at(values, ["extraVolumes"]) as { name?: string; hostPath?: { path?: string } }[] | undefined) ?? [];
  const hostVolumes = volumes.filter((v) => v.hostPath);
  for (const v of hostVolumes)
    if (v.hostPath!.path !== hostDir) problems.push(`extraVolumes ${v.name} mounts host ${v.hostPath!.path}`);
  const mounts = (at(values, ["extraVolumeMounts"]) as { name?: string; readOnly?: boolean }[] | undefined) ?? [];
  for (const m of mounts)
    if (hostVolumes.some((v) => v.name === m.name) && m.readOnly !== true)
      problems.push(`extraVolumeMounts ${m.name} is not read-only`);
  return problems;
}

/** Every capability dropped, none added, read-only root filesystem, no privilege escalation. */
export function vectorContainerProblems(values: unknown): string[] {
  const problems: string[] = [];
  const drop = at(values, ["securityContext", "capabilities", "drop"]);
  if (!Array.isArray(drop) || drop.indexOf("ALL") < 0)
    problems.push("securityContext.capabilities.drop must include ALL");
  const add = at(values, ["securityContext", "capabilities", "add"]);
  if (Array.isArray(add) && add.length > 0) problems.push(`adds capabilities ${add.join(", ")}`);
  if (at(values, ["securityContext", "readOnlyRootFilesystem"]) !== true)
    problems.push("securityContext.readOnlyRootFilesystem must be true");
  if (at(values, ["securityContext", "allowPrivilegeEscalation"]) !== false)
    problems.push("securityContext.allowPrivilegeEscalation must be false");
  return problems;
}
