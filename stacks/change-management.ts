/**
 * The GitHub layer: change management of the IaC and GitOps repositories and
 * Argo CD's read-only key to the GitOps repository.
 */
import * as github from "@pulumi/github";
import * as pulumi from "@pulumi/pulumi";
import { ChangeManagement } from "../components/change-management";
import type { PlatformConfig } from "../config/schema";
import { buildChangeManagementPlan, type ChangeManagementPlan } from "../plan/change-management";
import type { PlatformPlan } from "../plan/platform-plan";
import { argocdDeployKey } from "./deploy-key";

export interface DeployedChangeManagement {
  plan: ChangeManagementPlan;
  /** Argo CD's private key to the GitOps repository (PKCS#8 PEM), a Pulumi secret. */
  deployKeyPrivatePem: pulumi.Output<string>;
  /** Non-secret facts for stack outputs. */
  outputs: ChangeManagementOutputs;
}

export interface ChangeManagementOutputs {
  repositorySettingsOwner: boolean;
  protectedBranch: string;
  requiredApprovals: number;
  requiredChecks: Record<string, readonly string[]>;
  environments: string[];
  deployKeyFingerprint: pulumi.Output<string>;
}

/** Undefined when the GitHub layer is switched off (`layers.github: false`). */
export function deployChangeManagement(args: {
  plan: PlatformPlan;
  config: PlatformConfig;
}): DeployedChangeManagement | undefined {
  if (!args.config.layers.github) return undefined;
  const plan = buildChangeManagementPlan(args.config);
  const prefix = args.plan.environment;

  // Owner from config; the token only from GITHUB_TOKEN, read by the provider
  // itself, so no credential passes through config or state.
  const provider = new github.Provider(`${prefix}-github`, { owner: plan.owner });

  const deployKey = argocdDeployKey(prefix);

  new ChangeManagement(`${prefix}-change-management`, {
    plan,
    provider,
    deployKeyPublicOpenssh: deployKey.publicKeyOpenssh,
  });

  return {
    plan,
    deployKeyPrivatePem: deployKey.privateKeyPem,
    outputs: {
      repositorySettingsOwner: plan.ownsRepositorySettings,
      protectedBranch: plan.repositories[0]!.protection.branch,
      requiredApprovals: plan.repositories[0]!.protection.requiredApprovals,
      requiredChecks: Object.fromEntries(plan.repositories.map((r) => [r.name, r.protection.requiredStatusChecks])),
      environments: plan.repositories.flatMap((r) => r.environments.map((e) => `${r.name}:${e.name}`)),
      deployKeyFingerprint: deployKey.fingerprintSha256,
    },
  };
}
