/** Talos nodes among the recorded instances, and their machine configs, parsed once for every policy that reads them. */
import { parse as parseYaml } from "yaml";
import { OPAQUE, at, isOpaque, type PolicyResource } from "./model";
import { TYPES } from "./resource-types";

export const isTalosNode = (r: PolicyResource) =>
  r.type === TYPES.instance &&
  typeof at(r.props, ["metadata", "cluster"]) === "string" &&
  at(r.props, ["metadata", "role"]) !== "loadbalancer";

const parsedConfigs = new Map<string, Record<string, unknown> | Error>();

/** Machine configs are large and read by several policies: parse each once. */
export function machineConfigOf(r: PolicyResource): Record<string, unknown> | Error | typeof OPAQUE {
  const userData = r.props.userData;
  if (typeof userData !== "string" || isOpaque(userData)) return OPAQUE;
  let parsed = parsedConfigs.get(userData);
  if (parsed === undefined) {
    try {
      parsed = (parseYaml(userData) ?? {}) as Record<string, unknown>;
    } catch (err) {
      parsed = err as Error;
    }
    parsedConfigs.set(userData, parsed);
  }
  return parsed;
}

export const isControlPlane = (r: PolicyResource) => at(r.props, ["metadata", "node-role"]) === "controlplane";
