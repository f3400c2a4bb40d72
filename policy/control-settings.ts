import { REPO_ROOT } from "../config/load";
import { committedOwnership } from "../config/cross-stack";
import type { PlatformConfig } from "../config/schema";
import type { ControlSettings } from "./controls-on";

/**
 * The switchable controls of one stack's validated config. Repository
 * ownership spans stacks: the committed stack files, with this config in
 * place of its environment's file.
 */
export function controlSettings(config: PlatformConfig, root = REPO_ROOT): ControlSettings {
  const self = `Pulumi.${config.environment}.yaml`;
  const owners = committedOwnership(root)
    .filter((s) => s.stack !== config.environment && s.owns)
    .map((s) => s.file);
  if (config.github.ownsRepositorySettings) owners.push(self);
  return {
    requireMfa: config.zitadel.requireMfa,
    layers: { ...config.layers },
    lockDays: config.audit.lockDays,
    repositorySettingsOwners: owners.sort(),
  };
}
