/**
 * Fixed addresses of each cluster's load-balancer pair and its VIP. They come
 * from the head of the site subnet that SiteNetwork keeps out of DHCP, so no
 * Nova port can take them before the cluster asks.
 */
import { formatAddress, nthAddress, parseAddress, parseCidr } from "./cidr";
import type { ClusterId } from "./security-rules";

export interface ClusterAddresses {
  /** Shared by the HAProxy pair via keepalived; the Kubernetes API endpoint. */
  vip: string;
  /** Fixed addresses of the two HAProxy instances (keepalived peers). */
  loadBalancers: readonly [string, string];
  /** VRRP router id of the pair; distinct per cluster on the shared segment. */
  virtualRouterId: number;
}

/**
 * Where each cluster's block starts in the reserved head. Fixed per cluster
 * rather than counted in order, so that adding or removing the ops cluster
 * in a site never moves the management cluster's VIP (and vice versa).
 * Offsets 0 and 1 are the network and the router; 2 and 3 are left to site
 * services such as a resolver in the subnet.
 */
export const CLUSTER_BLOCK_OFFSETS: Readonly<Record<ClusterId, number>> = { ops: 4, mgmt: 8 };

const VIRTUAL_ROUTER_IDS: Readonly<Record<ClusterId, number>> = { ops: 51, mgmt: 52 };

/** VIP, first and second load balancer. */
const BLOCK_SIZE = 3;

export interface SiteAddressInput {
  /** The site subnet, e.g. `10.32.0.0/20`. */
  subnet: string;
  clusters: readonly ClusterId[];
  /** How many addresses at the start of the subnet DHCP never hands out. */
  reservedHead: number;
  /** Addresses already in use in the subnet (e.g. configured DNS resolvers). */
  taken?: readonly string[];
}

/**
 * The fixed addresses of every cluster in one site. Throws when the reserved
 * head is too small or a planned address is already taken, naming both.
 */
export function siteClusterAddresses(input: SiteAddressInput): Record<ClusterId, ClusterAddresses> {
  const subnet = parseCidr(input.subnet);
  const size = subnet.end - subnet.start + 1;
  if (input.reservedHead > size) {
    throw new Error(`${input.subnet} has ${size} addresses, fewer than the ${input.reservedHead} reserved ones`);
  }
  const taken = new Map<number, string>();
  taken.set(subnet.start, "the network address");
  taken.set(subnet.start + 1, "the router");
  for (const address of input.taken ?? []) {
    const value = parseAddress(address);
    if (value !== undefined) taken.set(value, `${address} (already in use)`);
  }

  const result = {} as Record<ClusterId, ClusterAddresses>;
  for (const cluster of input.clusters) {
    const offset = CLUSTER_BLOCK_OFFSETS[cluster];
    if (offset + BLOCK_SIZE > input.reservedHead) {
      throw new Error(
        `cluster ${cluster} needs offsets ${offset}-${offset + BLOCK_SIZE - 1} of ${input.subnet}, ` +
          `but only the first ${input.reservedHead} addresses are kept out of DHCP`,
      );
    }
    const addresses = [0, 1, 2].map((i) => {
      const value = subnet.start + offset + i;
      const clash = taken.get(value);
      if (clash)
        throw new Error(`cluster ${cluster} would take ${formatAddress(value)} in ${input.subnet}, which is ${clash}`);
      taken.set(value, `planned for cluster ${cluster}`);
      return nthAddress(input.subnet, offset + i);
    });
    result[cluster] = {
      vip: addresses[0]!,
      loadBalancers: [addresses[1]!, addresses[2]!],
      virtualRouterId: VIRTUAL_ROUTER_IDS[cluster],
    };
  }
  return result;
}
