/**
 * IPv4 CIDR arithmetic on plain numbers. Everything here is pure so that the
 * address plan and the security-group rule tables can be property-tested.
 */

export interface Ipv4Range {
  /** First address, as an unsigned 32-bit integer. */
  readonly start: number;
  /** Last address, inclusive. */
  readonly end: number;
}

export interface Cidr extends Ipv4Range {
  readonly prefix: number;
}

const CIDR_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/;
const ADDRESS_PATTERN = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseOctets(parts: string[]): number | undefined {
  let value = 0;
  for (const part of parts) {
    // Leading zeros are refused: some tools read them as octal.
    if (part.length > 1 && part.startsWith("0")) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    value = value * 256 + octet;
  }
  return value;
}

export function parseAddress(text: string): number | undefined {
  const match = ADDRESS_PATTERN.exec(text);
  return match ? parseOctets(match.slice(1, 5)) : undefined;
}

export function formatAddress(value: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(value / 2 ** shift) % 256).join(".");
}

/** Why a string is not a canonical CIDR, or undefined when it is one. */
export function cidrProblem(text: string): string | undefined {
  const match = CIDR_PATTERN.exec(text);
  if (!match) return `"${text}" is not an IPv4 CIDR such as 10.0.0.0/16`;
  const start = parseOctets(match.slice(1, 5));
  if (start === undefined) return `"${text}" has an octet outside 0-255 or with a leading zero`;
  const prefix = Number(match[5]);
  if (prefix > 32) return `"${text}" has a prefix length above 32`;
  const size = 2 ** (32 - prefix);
  if (start % size !== 0) {
    return `"${text}" has host bits set; the network is ${formatAddress(start - (start % size))}/${prefix}`;
  }
  return undefined;
}

export function parseCidr(text: string): Cidr {
  const problem = cidrProblem(text);
  if (problem) throw new Error(problem);
  const [address, prefixText] = text.split("/") as [string, string];
  const start = parseAddress(address)!;
  const prefix = Number(prefixText);
  return { start, end: start + 2 ** (32 - prefix) - 1, prefix };
}

export function formatCidr(cidr: Cidr): string {
  return `${formatAddress(cidr.start)}/${cidr.prefix}`;
}

export function overlaps(a: Ipv4Range, b: Ipv4Range): boolean {
  return a.start <= b.end && b.start <= a.end;
}

export function contains(outer: Ipv4Range, inner: Ipv4Range): boolean {
  return outer.start <= inner.start && inner.end <= outer.end;
}

export function cidrOverlaps(a: string, b: string): boolean {
  return overlaps(parseCidr(a), parseCidr(b));
}

export function cidrContains(outer: string, inner: string): boolean {
  return contains(parseCidr(outer), parseCidr(inner));
}

export function addressCount(cidr: string): number {
  return 2 ** (32 - parseCidr(cidr).prefix);
}

/** The n-th address of a CIDR (0 is the network address). */
export function nthAddress(cidr: string, n: number): string {
  const parsed = parseCidr(cidr);
  if (n < 0 || parsed.start + n > parsed.end) {
    throw new Error(`address #${n} lies outside ${cidr}`);
  }
  return formatAddress(parsed.start + n);
}

/** The largest aligned CIDRs that exactly cover [start, end]. */
export function rangeToCidrs(range: Ipv4Range): Cidr[] {
  const result: Cidr[] = [];
  let start = range.start;
  while (start <= range.end) {
    let prefix = 32;
    // Grow the block while it stays aligned and inside the range.
    while (prefix > 0) {
      const size = 2 ** (32 - (prefix - 1));
      if (start % size !== 0 || start + size - 1 > range.end) break;
      prefix -= 1;
    }
    const size = 2 ** (32 - prefix);
    result.push({ start, end: start + size - 1, prefix });
    start += size;
  }
  return result;
}

/**
 * The minimal set of CIDRs covering `universe` minus every range in
 * `excluded`. Used to allow egress everywhere except other environments.
 */
export function subtractCidrs(universe: string, excluded: readonly string[]): string[] {
  const outer = parseCidr(universe);
  const holes = excluded
    .map(parseCidr)
    .filter((hole) => overlaps(hole, outer))
    .sort((a, b) => a.start - b.start);
  const gaps: Ipv4Range[] = [];
  let cursor = outer.start;
  for (const hole of holes) {
    if (hole.start > cursor) gaps.push({ start: cursor, end: hole.start - 1 });
    cursor = Math.max(cursor, hole.end + 1);
  }
  if (cursor <= outer.end) gaps.push({ start: cursor, end: outer.end });
  return gaps.flatMap(rangeToCidrs).map(formatCidr);
}

export const ANY_IPV4 = "0.0.0.0/0";
