/**
 * The Cluster API part of compliance.md (6.1): per management cluster, the
 * project its credential acts in, the credential's roles and restrictions,
 * and where its Secret is. The secret itself is never read here.
 */
import { CAPI_IDENTITY_TYPE } from "../policy/cluster-api";
import { isOpaque, typeChain, type PolicyContext, type PolicyResource } from "../policy/model";
import { displayText } from "../plan/display-text";

const code = (text: string) => `\`${text}\``;

export function clusterApiLines(ctx: PolicyContext, resources: readonly PolicyResource[]): string[] {
  const identities = resources.filter((r) => r.type === CAPI_IDENTITY_TYPE);
  if (identities.length === 0) return ["Cluster API identities: none in this stack.", ""];
  const childOf = (identity: PolicyResource, type: string) =>
    resources.find(
      (r) => r.type === type && r.name.startsWith(`${identity.name}-`) && typeChain(r).includes(CAPI_IDENTITY_TYPE),
    );
  const own = ctx.projects.environments[ctx.environment];
  const rows = identities.map((identity) => {
    const credential = childOf(identity, "openstack:identity/applicationCredential:ApplicationCredential");
    const secret = childOf(identity, "kubernetes:core/v1:Secret");
    const metadata = (secret?.props.metadata ?? {}) as {
      name?: string;
      namespace?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    };
    const projectId = metadata.annotations?.["ske-platform/openstack-project-id"];
    const site = metadata.labels?.["site"] ?? "?";
    const verdict =
      typeof projectId === "string" && !isOpaque(projectId) && own[site]?.id === projectId
        ? `${ctx.environment}/${site}'s own`
        : "NOT the environment's own";
    const roles = Array.isArray(credential?.props.roles)
      ? (credential.props.roles as string[]).join(", ")
      : "inherited (none named)";
    const restricted = credential?.props.unrestricted === false ? "restricted" : "UNRESTRICTED";
    const rules = Array.isArray(credential?.props.accessRules)
      ? (credential.props.accessRules as { service: string }[])
      : [];
    const services = [...new Set(rules.map((r) => r.service))].join(", ") || "none";
    return `| ${identity.name.replace(/-capi-identity$/, "")} | ${code(String(projectId))} (${verdict}) | ${code(displayText(credential?.props.name ?? "?"))} | ${roles}; ${restricted}; access rules: ${services} | ${metadata.namespace}/${metadata.name} (masked) |`;
  });
  return [
    "Cluster API identities (one application credential per management cluster, made through the site's scope-checked provider):",
    "",
    "| management cluster | project | credential | roles | Secret |",
    "| --- | --- | --- | --- | --- |",
    ...rows,
    "",
  ];
}
