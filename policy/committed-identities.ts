/**
 * The OIDC clients every other environment's committed stack file declares.
 * A token is only refused by another environment if that environment's
 * apiserver, Argo CD and Grafana trust a different client (audience); the
 * stack being judged cannot show that alone, so its policy reads the
 * siblings' files from the repository, as it reads address-plan.yaml.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../config/load";
import { CONFIG_NAMESPACE } from "../config/schema";
import { ENVIRONMENTS, type EnvironmentName } from "../plan/address-plan";

export const CLIENT_ID_KEYS = ["kubernetesClientId", "argocdClientId", "grafanaClientId"] as const;

export interface ForeignClient {
  environment: EnvironmentName;
  key: (typeof CLIENT_ID_KEYS)[number];
  clientId: string;
  file: string;
}

/** Client ids of every environment but `environment`, from `Pulumi.<env>.yaml` under `root`. */
export function committedForeignClients(environment: EnvironmentName, root = REPO_ROOT): ForeignClient[] {
  return ENVIRONMENTS.filter((e) => e !== environment).flatMap((other) => {
    const file = path.join(root, `Pulumi.${other}.yaml`);
    if (!fs.existsSync(file)) return [];
    const doc = parseYaml(fs.readFileSync(file, "utf8")) as { config?: Record<string, unknown> } | null;
    const zitadel = doc?.config?.[`${CONFIG_NAMESPACE}:zitadel`] as Record<string, unknown> | undefined;
    return CLIENT_ID_KEYS.flatMap((key) => {
      const clientId = zitadel?.[key];
      return typeof clientId === "string" ? [{ environment: other, key, clientId, file: path.basename(file) }] : [];
    });
  });
}
