import type { PlatformConfig } from "../config/schema";
import type { AddressPlan } from "../plan/address-plan";
import { committedForeignClients } from "./committed-identities";
import type { ProjectPlan } from "../plan/project-plan";
import { readProjectPlan } from "../config/projects";
import type { PolicyContext } from "./model";
import { controlSettings } from "./control-settings";

/**
 * The context of one environment, from its validated stack config and the
 * committed address plan. Both runners use this: synth with the config it
 * synthesized, the pack with the stack file of the stack being previewed.
 * Nothing is taken from the resources themselves, so a rule cannot make
 * itself legitimate.
 */
export function policyContext(
  config: PlatformConfig,
  addressPlan: AddressPlan,
  projects: ProjectPlan = readProjectPlan(),
): PolicyContext {
  return {
    environment: config.environment,
    addressPlan,
    projects,
    adminCidrs: [...config.access.adminCidrs],
    publicExceptions: config.access.publicExceptions.map((e) => ({ ...e })),
    ownsRepositorySettings: config.github.ownsRepositorySettings,
    argocdNamespace: config.argocd.namespace,
    oidc: { issuer: config.zitadel.issuer, requireMfa: config.zitadel.requireMfa },
    auditors: {
      kubernetesGroup: `${config.zitadel.groupsPrefix}${config.zitadel.auditorGroup}`,
      argocdGroup: config.zitadel.auditorGroup,
    },
    foreignClients: committedForeignClients(config.environment),
    controls: controlSettings(config),
    platform: { kubernetesGroup: `${config.zitadel.groupsPrefix}${config.zitadel.platformGroup}` },
    breakGlass: { kubernetesGroup: `${config.zitadel.groupsPrefix}${config.zitadel.breakGlassGroup}` },
    archiveWriterProjects: [
      ...Object.values(config.audit.archive.writerProjects),
      ...Object.values(config.backups?.writerProjects ?? {}),
    ],
  };
}
