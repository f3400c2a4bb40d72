import { describe, expect, it } from "vitest";
import { ConfigError, loadPlatformConfig, readAddressPlan } from "../config/load";
import { readStackFile } from "../config/stack-file";
import { STACKS, stackFilePath, variantFile } from "./support/stacks";
import { configProblemsOf } from "./support/config-problems";

const addressPlan = readAddressPlan();

function load(stack: string, file: string) {
  return loadPlatformConfig(readStackFile(file, stack), addressPlan);
}

describe("committed stack files", () => {
  it.each(STACKS)("Pulumi.%s.yaml is valid and names its own environment", (stack) => {
    const { config } = load(stack, stackFilePath(stack));
    expect(config.environment).toBe(stack);
  });

  // Protection and MFA in staging are refused off by the config itself (test/config-refusals.test.ts);
  // what no single stack file can check is that staging mirrors production's sites and exceptions.
  it("staging runs in production's sites with production's public exceptions", () => {
    const prod = load("production", stackFilePath("production")).config;
    const staging = load("staging", stackFilePath("staging")).config;
    expect(Object.keys(staging.sites).sort()).toEqual(Object.keys(prod.sites).sort());
    expect(staging.access.publicExceptions).toEqual(prod.access.publicExceptions);
  });
});

const P = "ske-platform:";

// Each case breaks one thing and names the key path the error must point at.
const invalid: Array<[string, string, (c: Record<string, any>) => void, string, RegExp?]> = [
  [
    "misspelt top-level key",
    "production",
    (c) => {
      c[`${P}acess`] = c[`${P}access`];
    },
    `${P}acess`,
    /unknown key/,
  ],
  [
    "misspelt nested key",
    "production",
    (c) => {
      c[`${P}sites`].osl2.flavours = c[`${P}sites`].osl2.flavors;
    },
    `${P}sites.osl2.flavours`,
    /unknown key; allowed here: region, cloud/,
  ],
  [
    "unknown environment",
    "production",
    (c) => {
      c[`${P}environment`] = "prod";
    },
    `${P}environment`,
  ],
  [
    "stack deploying another environment",
    "production",
    (c) => {
      c[`${P}environment`] = "staging";
    },
    `${P}environment`,
    /stack "production" cannot deploy environment "staging"/,
  ],
  [
    "production without sto2",
    "production",
    (c) => {
      delete c[`${P}sites`].sto2;
    },
    `${P}sites`,
    /production must run in site sto2/,
  ],
  [
    "even control-plane count",
    "production",
    (c) => {
      c[`${P}sites`].osl2.nodes.controlPlane = 2;
    },
    `${P}sites.osl2.nodes.controlPlane`,
  ],
  [
    "zero workers",
    "staging",
    (c) => {
      c[`${P}sites`].sto2.nodes.worker = 0;
    },
    `${P}sites.sto2.nodes.worker`,
  ],
  [
    "external network by name",
    "production",
    (c) => {
      c[`${P}sites`].osl2.externalNetworkId = "public";
    },
    `${P}sites.osl2.externalNetworkId`,
    /OpenStack UUID/,
  ],
  [
    "subnet off the address plan",
    "production",
    (c) => {
      c[`${P}sites`].sto2.subnet = "10.32.32.0/20";
    },
    `${P}sites.sto2.subnet`,
    /differs from address-plan.yaml, which gives production\/sto2 10.32.16.0\/20/,
  ],
  [
    "site missing from the address plan",
    "test",
    (c) => {
      c[`${P}sites`].hel1 = structuredClone(c[`${P}sites`].osl2);
      c[`${P}sites`].hel1.subnet = "10.34.16.0/20";
    },
    `${P}sites.hel1`,
    /address-plan.yaml has no subnet for test\/hel1/,
  ],
  [
    "malformed subnet",
    "test",
    (c) => {
      c[`${P}sites`].osl2.subnet = "10.34.0.7/20";
    },
    `${P}sites.osl2.subnet`,
    /host bits set/,
  ],
  [
    "ops cluster in an unknown site",
    "production",
    (c) => {
      c[`${P}clusters`].ops.site = "hel1";
    },
    `${P}clusters.ops.site`,
    /not one of the configured sites/,
  ],
  [
    "admin range inside staging",
    "production",
    (c) => {
      c[`${P}access`].adminCidrs = ["10.33.4.0/24"];
    },
    `${P}access.adminCidrs[0]`,
    /overlaps another environment's supernet 10.33.0.0\/16/,
  ],
  [
    "the internet as admin range",
    "production",
    (c) => {
      c[`${P}access`].adminCidrs = ["0.0.0.0/0"];
    },
    `${P}access.adminCidrs[0]`,
    /publicExceptions/,
  ],
  [
    "no admin range",
    "staging",
    (c) => {
      c[`${P}access`].adminCidrs = [];
    },
    `${P}access.adminCidrs`,
  ],
  [
    "exception without a reason",
    "test",
    (c) => {
      c[`${P}access`].publicExceptions = [
        { name: "ssh", reason: "", group: "jumphost", protocol: "tcp", port: 22, cidr: "0.0.0.0/0" },
      ];
    },
    `${P}access.publicExceptions[0].reason`,
  ],
  [
    "zero required approvals",
    "production",
    (c) => {
      c[`${P}github`].requiredApprovals = 0;
    },
    `${P}github.requiredApprovals`,
  ],
  [
    "plain-http issuer",
    "production",
    (c) => {
      c[`${P}zitadel`].issuer = "http://id.example.net";
    },
    `${P}zitadel.issuer`,
    /https/,
  ],
  [
    "lock shorter than retention",
    "production",
    (c) => {
      c[`${P}audit`].lockDays = 7;
    },
    `${P}audit.lockDays`,
    /at least the retention/,
  ],
  [
    "unprotected production",
    "production",
    (c) => {
      c[`${P}protection`].statefulResources = false;
    },
    `${P}protection.statefulResources`,
    /allowUnprotectedProduction/,
  ],
  [
    "OpenStack password in the stack file",
    "production",
    (c) => {
      c["openstack:password"] = "hunter2";
    },
    "openstack:password",
    /credentials stay out of stack files/,
  ],
  [
    "foreign namespace",
    "production",
    (c) => {
      c["aws:region"] = "eu-north-1";
    },
    "aws:region",
    /reads only ske-platform/,
  ],
  [
    "missing section",
    "test",
    (c) => {
      delete c[`${P}zitadel`];
    },
    `${P}zitadel`,
  ],
];

describe("invalid configuration", () => {
  it.each(invalid)("refuses %s", (_what, stack, edit, key, message) => {
    const problems = configProblemsOf(stack, edit);
    const hit = problems.find((p) => p.key === key);
    expect(hit, `expected a problem at ${key}, got ${JSON.stringify(problems)}`).toBeDefined();
    expect(hit!.file).toBe(`Pulumi.${stack}.yaml`);
    if (message) expect(hit!.message).toMatch(message);
  });

  it("lists every problem at once, each with key and file", () => {
    const problems = configProblemsOf("production", (c) => {
      c[`${P}sites`].osl2.nodes.worker = -1;
      c[`${P}github`].team = "Platform Team";
      c[`${P}zitadel`].issuer = "not a url";
    });
    expect(problems.map((p) => p.key).sort()).toEqual([
      `${P}github.team`,
      `${P}sites.osl2.nodes.worker`,
      `${P}zitadel.issuer`,
    ]);
    const error = new ConfigError(problems);
    expect(error.message).toMatch(/^Invalid configuration \(3 problems\)/);
    expect(error.message).toContain(`Pulumi.production.yaml: ${P}github.team:`);
  });

  it("fills defaults instead of demanding every key", () => {
    const file = variantFile("test", (c) => {
      delete c[`${P}access`].publicExceptions;
      delete c[`${P}github`].requiredApprovals;
      delete c[`${P}audit`].retentionDays;
    });
    const { config } = load("test", file);
    expect(config.access.publicExceptions).toEqual([]);
    expect(config.github.requiredApprovals).toBe(1);
    expect(config.audit.retentionDays).toBe(30);
  });

  it("gives a stack without a monitoring section the same values as an empty one", () => {
    const without = load(
      "test",
      variantFile("test", (c) => {
        delete c[`${P}monitoring`];
      }),
    ).config.monitoring;
    const empty = load(
      "test",
      variantFile("test", (c) => {
        c[`${P}monitoring`] = {};
      }),
    ).config.monitoring;
    expect(without).toEqual(empty);
    expect(without.metricsRetentionDays).toBeGreaterThan(0);
    expect(without.charts.metrics.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("accepts a stack variant of the same environment, such as test-lab", () => {
    const file = variantFile("test", () => {});
    expect(load("test-lab", file).config.environment).toBe("test");
  });
});
