import * as openstack from "@pulumi/openstack";
import type * as pulumi from "@pulumi/pulumi";
import type { GroupKey, SiteSecurityTable } from "../../plan/security-rules";

/**
 * The site's security groups, each starting empty (`deleteDefaultRules`), and
 * the rules of the table between them; a rule naming a group the table does
 * not define is refused.
 */
export function siteSecurityGroups(
  args: { prefix: string; region: string; tags: string[]; security: SiteSecurityTable },
  child: pulumi.CustomResourceOptions,
): {
  groups: Record<GroupKey, openstack.networking.SecGroup>;
  rules: openstack.networking.SecGroupRule[];
} {
  const { prefix, region, tags } = args;
  const groups = {} as Record<GroupKey, openstack.networking.SecGroup>;
  for (const spec of args.security.groups) {
    groups[spec.key] = new openstack.networking.SecGroup(
      `${prefix}-${spec.key}`,
      {
        name: `${prefix}-${spec.key}`,
        description: spec.description,
        region,
        deleteDefaultRules: true,
        tags,
      },
      child,
    );
  }

  const groupOf = (key: GroupKey) => {
    const found = groups[key];
    if (!found) throw new Error(`rule table names group "${key}", which ${prefix} does not define`);
    return found;
  };

  const rules = args.security.rules.map((rule) => {
    return new openstack.networking.SecGroupRule(
      `${prefix}-${rule.key}`,
      {
        region,
        securityGroupId: groupOf(rule.group).id,
        direction: rule.direction,
        ethertype: "IPv4",
        description: rule.description,
        ...(rule.protocol ? { protocol: rule.protocol } : {}),
        ...(rule.ports ? { portRangeMin: rule.ports.from, portRangeMax: rule.ports.to } : {}),
        ...(rule.peer.kind === "group"
          ? { remoteGroupId: groupOf(rule.peer.group).id }
          : { remoteIpPrefix: rule.peer.cidr }),
      },
      child,
    );
  });
  return { groups, rules };
}
