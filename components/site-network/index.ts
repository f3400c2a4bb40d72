import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { nthAddress, parseCidr, formatAddress } from "../../plan/cidr";
import type { GroupKey, SiteSecurityTable } from "../../plan/security-rules";
import { siteSecurityGroups } from "./security-groups";

export interface SiteNetworkArgs {
  /** Prefix of every resource name, e.g. `production-osl2`. */
  prefix: string;
  region: string;
  cidr: string;
  externalNetworkId: pulumi.Input<string>;
  dnsNameservers: readonly string[];
  security: SiteSecurityTable;
  /** Every OpenStack call of this site goes through this provider; nothing ambient. */
  provider: openstack.Provider;
  tags: readonly string[];
}

/**
 * Addresses at the start of each site subnet are kept out of DHCP so that
 * load-balancer VIPs can be fixed in the plan; the router takes the first.
 */
export const RESERVED_HEAD_ADDRESSES = 16;

/**
 * One site's network: a network, a subnet, a router to the external network,
 * and the security groups of the rule table. Every group starts empty
 * (`deleteDefaultRules`), so all that is admitted is in the table.
 */
export class SiteNetwork extends pulumi.ComponentResource {
  readonly network: openstack.networking.Network;
  readonly subnet: openstack.networking.Subnet;
  readonly router: openstack.networking.Router;
  readonly securityGroups: Readonly<Record<GroupKey, openstack.networking.SecGroup>>;
  readonly rules: openstack.networking.SecGroupRule[];

  constructor(name: string, args: SiteNetworkArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:network:SiteNetwork", name, {}, opts);
    const { prefix, region, provider } = args;
    const child = { parent: this, provider };
    const tags = [...args.tags];

    this.network = new openstack.networking.Network(
      `${prefix}-net`,
      {
        name: `${prefix}-net`,
        region,
        adminStateUp: true,
        tags,
      },
      child,
    );

    const range = parseCidr(args.cidr);
    this.subnet = new openstack.networking.Subnet(
      `${prefix}-subnet`,
      {
        name: `${prefix}-subnet`,
        region,
        networkId: this.network.id,
        cidr: args.cidr,
        ipVersion: 4,
        gatewayIp: nthAddress(args.cidr, 1),
        allocationPools: [
          {
            start: nthAddress(args.cidr, RESERVED_HEAD_ADDRESSES),
            end: formatAddress(range.end - 1),
          },
        ],
        dnsNameservers: [...args.dnsNameservers],
        tags,
      },
      child,
    );

    this.router = new openstack.networking.Router(
      `${prefix}-router`,
      {
        name: `${prefix}-router`,
        region,
        externalNetworkId: args.externalNetworkId,
        tags,
      },
      child,
    );

    new openstack.networking.RouterInterface(
      `${prefix}-router-if`,
      {
        region,
        routerId: this.router.id,
        subnetId: this.subnet.id,
      },
      child,
    );

    const { groups, rules } = siteSecurityGroups({ prefix, region, tags, security: args.security }, child);
    this.securityGroups = groups;
    this.rules = rules;

    this.registerOutputs({
      networkId: this.network.id,
      subnetId: this.subnet.id,
      routerId: this.router.id,
    });
  }
}
