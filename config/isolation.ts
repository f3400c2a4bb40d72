/**
 * No address in a stack's config may reach into another environment's
 * supernet: not an admin range, not a public exception, not a DNS server,
 * not the host of a URL, nor any CIDR or address a future key adds. Every
 * string in the config is examined, so a new key cannot slip past by name.
 *
 * Overlap, not containment, is the test: 10.0.0.0/8 contains no supernet's
 * inside but admits all of them.
 */
import { cidrOverlaps, cidrProblem, parseAddress } from "../plan/cidr";

export interface ForeignSupernet {
  environment: string;
  supernet: string;
}

export interface AddressClash {
  /** Key path inside the ske-platform namespace, e.g. `access.publicExceptions[0].cidr`. */
  key: string;
  message: string;
}

/** The CIDR a config string denotes, if it denotes one: a CIDR, an address, or a URL whose host is an address. */
export function addressOf(value: string): string | undefined {
  if (value.includes("/") && !value.includes(":") && !cidrProblem(value)) return value;
  if (parseAddress(value) !== undefined) return `${value}/32`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    try {
      const host = new URL(value).hostname;
      if (parseAddress(host) !== undefined) return `${host}/32`;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function walk(value: unknown, key: string, visit: (key: string, value: string) => void): void {
  if (typeof value === "string") visit(key, value);
  else if (Array.isArray(value)) value.forEach((item, i) => walk(item, `${key}[${i}]`, visit));
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) walk(v, key ? `${key}.${k}` : k, visit);
  }
}

/** Every config string that denotes addresses overlapping another environment's supernet. */
export function foreignAddressClashes(config: unknown, foreign: readonly ForeignSupernet[]): AddressClash[] {
  const clashes: AddressClash[] = [];
  walk(config, "", (key, value) => {
    const cidr = addressOf(value);
    if (cidr === undefined) return;
    const hit = foreign.filter((f) => cidrOverlaps(cidr, f.supernet));
    if (hit.length === 0) return;
    // A URL is named by its host only: whatever else it carries stays out of error output.
    const shown = value.includes("://") ? `host ${cidr.replace(/\/32$/, "")}` : value;
    clashes.push({
      key,
      message:
        `${shown} overlaps ${hit.map((f) => `${f.environment}'s supernet ${f.supernet}`).join(" and ")}; ` +
        "no address in one environment's config may reach another environment (split a public range around the other supernets)",
    });
  });
  return clashes;
}
