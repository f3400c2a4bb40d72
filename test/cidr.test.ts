import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  cidrProblem,
  formatAddress,
  nthAddress,
  parseCidr,
  rangeToCidrs,
  subtractCidrs,
  cidrContains,
  cidrOverlaps,
} from "../plan/cidr";

const address = fc.integer({ min: 0, max: 2 ** 32 - 1 });
const cidr = fc.tuple(address, fc.integer({ min: 0, max: 32 })).map(([start, prefix]) => {
  const size = 2 ** (32 - prefix);
  return `${formatAddress(start - (start % size))}/${prefix}`;
});

describe("CIDR parsing", () => {
  it("accepts canonical CIDRs and knows their bounds", () => {
    expect(parseCidr("10.32.16.0/20")).toEqual({ start: 0x0a201000, end: 0x0a201fff, prefix: 20 });
    expect(parseCidr("0.0.0.0/0")).toEqual({ start: 0, end: 2 ** 32 - 1, prefix: 0 });
  });

  it.each([
    ["10.0.0.1/16", /host bits set; the network is 10.0.0.0\/16/],
    ["10.0.0.0", /not an IPv4 CIDR/],
    ["10.0.0.0/33", /prefix length above 32/],
    ["10.0.256.0/24", /octet outside/],
    ["10.01.0.0/16", /leading zero/],
    ["fd00::/8", /not an IPv4 CIDR/],
  ])("refuses %s with a reason", (text, reason) => {
    expect(cidrProblem(text)).toMatch(reason);
    expect(() => parseCidr(text)).toThrow(reason);
  });

  it("round-trips every canonical CIDR", () => {
    fc.assert(
      fc.property(cidr, (c) => {
        const parsed = parseCidr(c);
        expect(`${formatAddress(parsed.start)}/${parsed.prefix}`).toBe(c);
      }),
    );
  });

  it("numbers addresses inside the block only", () => {
    expect(nthAddress("10.32.0.0/20", 1)).toBe("10.32.0.1");
    expect(nthAddress("10.32.0.0/20", 4095)).toBe("10.32.15.255");
    expect(() => nthAddress("10.32.0.0/20", 4096)).toThrow(/outside/);
  });
});

describe("CIDR set arithmetic", () => {
  it("covers a range exactly with aligned blocks", () => {
    fc.assert(
      fc.property(address, address, (a, b) => {
        const range = { start: Math.min(a, b), end: Math.max(a, b) };
        const blocks = rangeToCidrs(range);
        expect(blocks[0]!.start).toBe(range.start);
        expect(blocks.at(-1)!.end).toBe(range.end);
        blocks.forEach((block, i) => {
          expect(block.start % 2 ** (32 - block.prefix)).toBe(0);
          if (i > 0) expect(block.start).toBe(blocks[i - 1]!.end + 1);
        });
        // Never more than two blocks per prefix length: the cover is minimal.
        expect(blocks.length).toBeLessThanOrEqual(62);
      }),
    );
  });

  it("subtracts holes: nothing left overlaps a hole, and every other address is kept", () => {
    fc.assert(
      fc.property(fc.array(cidr, { maxLength: 4 }), address, (holes, probe) => {
        const rest = subtractCidrs("0.0.0.0/0", holes);
        for (const block of rest) for (const hole of holes) expect(cidrOverlaps(block, hole)).toBe(false);
        const probeCidr = `${formatAddress(probe)}/32`;
        const inHole = holes.some((h) => cidrContains(h, probeCidr));
        const kept = rest.some((r) => cidrContains(r, probeCidr));
        expect(kept).toBe(!inHole);
      }),
    );
  });

  it("of the committed neighbours of production, leaves a short rule list", () => {
    const rest = subtractCidrs("0.0.0.0/0", ["10.33.0.0/16", "10.34.0.0/16"]);
    expect(rest).toContain("10.32.0.0/16");
    expect(rest).toContain("10.35.0.0/16");
    expect(rest).not.toContain("10.33.0.0/16");
    expect(rest.length).toBe(16);
  });
});
