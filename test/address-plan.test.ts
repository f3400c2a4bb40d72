import { describe, expect, it } from "vitest";
import { ConfigError, readAddressPlan, validateAddressPlan } from "../config/load";
import { foreignSupernets, type AddressPlan } from "../plan/address-plan";
import { cidrContains, cidrOverlaps } from "../plan/cidr";

const committed = readAddressPlan();

function problemsOf(plan: unknown): string[] {
  try {
    validateAddressPlan(plan);
    return [];
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    return err.problems.map((p) => `${p.key}: ${p.message}`);
  }
}

function variant(edit: (plan: AddressPlan) => void): AddressPlan {
  const copy = structuredClone(committed);
  edit(copy);
  return copy;
}

describe("the committed address plan", () => {
  it("is valid", () => {
    expect(problemsOf(committed)).toEqual([]);
  });

  it("puts every site inside its environment's supernet and keeps all ranges apart", () => {
    const envs = Object.entries(committed.environments);
    const subnets = envs.flatMap(([, env]) => Object.values(env.sites));
    for (const [, env] of envs) {
      for (const subnet of Object.values(env.sites)) expect(cidrContains(env.supernet, subnet)).toBe(true);
    }
    subnets.forEach((a, i) => subnets.slice(i + 1).forEach((b) => expect(cidrOverlaps(a, b)).toBe(false)));
  });

  it("gives production both Nordic sites", () => {
    expect(Object.keys(committed.environments.production.sites).sort()).toEqual(["osl2", "sto2"]);
  });

  it("tells each environment the others' supernets", () => {
    expect(foreignSupernets(committed, "production").sort()).toEqual(["10.33.0.0/16", "10.34.0.0/16"]);
  });
});

describe("address plan validation", () => {
  it("refuses overlapping supernets", () => {
    expect(
      problemsOf(
        variant((p) => {
          p.environments.staging.supernet = "10.32.128.0/17";
        }),
      ),
    ).toContainEqual(expect.stringMatching(/^environments\.staging\.supernet: 10\.32\.128\.0\/17 overlaps production/));
  });

  it("refuses a site outside its supernet", () => {
    expect(
      problemsOf(
        variant((p) => {
          p.environments.test.sites.osl2 = "10.40.0.0/20";
        }),
      ),
    ).toContainEqual("environments.test.sites.osl2: 10.40.0.0/20 lies outside test's supernet 10.34.0.0/16");
  });

  it("refuses overlapping sites", () => {
    expect(
      problemsOf(
        variant((p) => {
          p.environments.production.sites.sto2 = "10.32.8.0/21";
        }),
      ),
    ).toContainEqual(
      expect.stringMatching(/^environments\.production\.sites\.sto2: 10\.32\.8\.0\/21 overlaps production\/osl2/),
    );
  });

  it("refuses malformed CIDRs and unknown keys", () => {
    const problems = problemsOf(
      variant((p) => {
        p.environments.production.sites.osl2 = "10.32.0.1/20";
        (p.environments.test as Record<string, unknown>).vlan = 12;
      }),
    );
    expect(problems).toContainEqual(expect.stringMatching(/^environments\.production\.sites\.osl2: .*host bits set/));
    expect(problems).toContainEqual("environments.test.vlan: unknown key; allowed here: supernet, sites");
  });
});
