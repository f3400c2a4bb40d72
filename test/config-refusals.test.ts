import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError, loadPlatformConfig, readAddressPlan } from "../config/load";
import { assertSupportedTalosVersion } from "../components/talos/machine-config";
import { ENVIRONMENTS } from "../plan/address-plan";
import { cidrOverlaps, formatAddress } from "../plan/cidr";
import { buildPlatformPlan } from "../plan/platform-plan";
import { talosVersionProblem } from "../plan/versions";
import { readStackFile } from "../config/stack-file";
import { committedConfig, stackFilePath, synthStack, variantFile } from "./support/stacks";
import { configProblemsOf } from "./support/config-problems";

const addressPlan = readAddressPlan();
const NS = "ske-platform:";

/** The one problem reported at `key`, asserting the file is named too. */
function refusedAt(stack: string, key: string, edit: (config: Record<string, any>) => void): string {
  const problems = configProblemsOf(stack, edit);
  const hit = problems.filter((p) => p.key === `${NS}${key}`);
  expect(hit, `problems: ${JSON.stringify(problems)}`).toHaveLength(1);
  expect(hit[0]!.file).toBe(`Pulumi.${stack}.yaml`);
  return hit[0]!.message;
}

describe("versions the renderers cannot handle are refused by the schema", () => {
  const clusters = (field: string, value: string) => (c: Record<string, any>) => {
    c[`${NS}clusters`][field] = value;
  };

  it.each([
    ["1.14.0", /Talos 1\.14\.0 is not supported by the machine-config renderer \(supported: 1\.8 to 1\.13/],
    ["1.7.6", /Talos 1\.7\.6 is not supported/],
    ["2.0.0", /Talos 2\.0\.0 is not supported/],
  ])("clusters.talosVersion %s", (version, message) => {
    expect(refusedAt("production", "clusters.talosVersion", clusters("talosVersion", version))).toMatch(message);
  });

  it.each([
    ["1.29.10", /predates structured authentication configuration/],
    ["1.35.0", /not supported by Talos 1\.11\.5 \(supported with it: 1\.30 to 1\.34\)/],
    ["2.34.2", /does not exist/],
    ["1.34.2-rc.0", /pre-release/],
  ])("clusters.kubernetesVersion %s", (version, message) => {
    expect(refusedAt("staging", "clusters.kubernetesVersion", clusters("kubernetesVersion", version))).toMatch(message);
  });

  it("judges the Kubernetes version against the configured Talos line", () => {
    // 1.35 runs under Talos 1.12, not under 1.11.
    // (The runners' talosctl pin must follow the Talos line too; that is its own refusal, not this one.)
    const problems = configProblemsOf("test", (c) => {
      Object.assign(c[`${NS}clusters`], { talosVersion: "1.12.0", kubernetesVersion: "1.35.0" });
    });
    expect(problems.filter((p) => p.key.startsWith(`${NS}clusters.`))).toEqual([]);
  });

  it.each([
    [
      "clusters.ciliumChartVersion",
      (c: Record<string, any>) => {
        c[`${NS}clusters`].ciliumChartVersion = "1.13.9";
      },
    ],
    [
      "argocd.chartVersion",
      (c: Record<string, any>) => {
        c[`${NS}argocd`].chartVersion = "8.6.0";
      },
    ],
    [
      "audit.charts.loki.version",
      (c: Record<string, any>) => {
        c[`${NS}audit`].charts = { loki: { repository: "https://grafana.github.io/helm-charts", version: "5.48.0" } };
      },
    ],
    [
      "audit.charts.grafana.version",
      (c: Record<string, any>) => {
        c[`${NS}audit`].charts = {
          grafana: { repository: "https://grafana.github.io/helm-charts", version: "11.0.0" },
        };
      },
    ],
    [
      "audit.charts.collector.version",
      (c: Record<string, any>) => {
        c[`${NS}audit`].charts = { collector: { repository: "https://helm.vector.dev", version: "1.0.0" } };
      },
    ],
    [
      "monitoring.charts.metrics.version",
      (c: Record<string, any>) => {
        c[`${NS}monitoring`] = {
          charts: { metrics: { repository: "https://victoriametrics.github.io/helm-charts", version: "0.26.0" } },
        };
      },
    ],
    [
      "monitoring.charts.agent.version",
      (c: Record<string, any>) => {
        c[`${NS}monitoring`] = {
          charts: { agent: { repository: "https://victoriametrics.github.io/helm-charts", version: "1.0.0" } },
        };
      },
    ],
  ])("chart version outside its values' line: %s", (key, edit) => {
    expect(refusedAt("test", key, edit)).toMatch(/outside the line whose values this program writes/);
  });

  it("the schema and the renderer share one table of Talos lines", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 30 }),
        fc.integer({ min: 0, max: 20 }),
        (major, minor, patch) => {
          const version = `${major}.${minor}.${patch}`;
          const schemaRefuses = talosVersionProblem(version) !== undefined;
          let rendererRefuses = false;
          try {
            assertSupportedTalosVersion(version);
          } catch {
            rendererRefuses = true;
          }
          expect(rendererRefuses).toBe(schemaRefuses);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("synth of an unsupported Talos version fails with key and file, and registers no resource", async () => {
    const result = await synthStack("production", variantFile("production", clusters("talosVersion", "1.14.0")));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain(
      "Pulumi.production.yaml: ske-platform:clusters.talosVersion: Talos 1.14.0 is not supported",
    );
    expect((result.registered ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  }, 60_000);
});

describe("production and staging cannot switch a control off", () => {
  const toggles: [string, (c: Record<string, any>) => void, RegExp][] = [
    [
      "zitadel.requireMfa",
      (c) => {
        c[`${NS}zitadel`].requireMfa = false;
      },
      /MFA cannot be switched off/,
    ],
    [
      "layers.kubernetes",
      (c) => {
        c[`${NS}layers`] = { kubernetes: false };
      },
      /auditor RBAC, the audit collectors, the object-lock archive/,
    ],
    [
      "layers.clusters",
      (c) => {
        c[`${NS}layers`] = { clusters: false };
      },
      /the clusters layer carries controls/,
    ],
    [
      "layers.bootstrap",
      (c) => {
        c[`${NS}layers`] = { bootstrap: false };
      },
      /the bootstrap layer carries controls/,
    ],
    [
      "layers.github",
      (c) => {
        c[`${NS}layers`] = { github: false };
      },
      /branch protection of main/,
    ],
    [
      "audit.lockDays",
      (c) => {
        c[`${NS}audit`].lockDays = 364;
      },
      /at least 365 days of object lock \(got 364\)/,
    ],
    [
      "clusters.ops.nodes.controlPlane",
      (c) => {
        c[`${NS}clusters`].ops.nodes.controlPlane = 1;
      },
      /no etcd quorum/,
    ],
    [
      "sites.sto2.nodes.controlPlane",
      (c) => {
        c[`${NS}sites`].sto2.nodes.controlPlane = 1;
      },
      /no etcd quorum/,
    ],
  ];

  describe.each(["production", "staging"])("%s", (stack) => {
    it.each(toggles)("refuses %s", (key, edit, message) => {
      expect(refusedAt(stack, key, edit)).toMatch(message);
    });
  });

  it("staging refuses unprotected stateful resources and the production override", () => {
    expect(
      refusedAt("staging", "protection.statefulResources", (c) => {
        c[`${NS}protection`].statefulResources = false;
      }),
    ).toMatch(/stay protected/);
    expect(
      refusedAt("staging", "protection.allowUnprotectedProduction", (c) => {
        c[`${NS}protection`].allowUnprotectedProduction = true;
      }),
    ).toMatch(/production's own decommissioning/);
  });

  it("test may still switch layers off and run a single control-plane node (the integration lab does)", () => {
    expect(
      configProblemsOf("test", (c) => {
        c[`${NS}layers`] = { clusters: false, bootstrap: false, kubernetes: false, github: false };
        c[`${NS}zitadel`].requireMfa = false;
        c[`${NS}clusters`].ops.nodes.controlPlane = 1;
      }),
    ).toEqual([]);
  });

  it("no environment may make the auditor group the platform group", () => {
    expect(
      refusedAt("test", "zitadel.auditorGroup", (c) => {
        c[`${NS}zitadel`].auditorGroup = c[`${NS}zitadel`].platformGroup;
      }),
    ).toMatch(/auditors would get the platform team's write access/);
  });

  it("no environment may archive into another environment's bucket", () => {
    expect(
      refusedAt("staging", "audit.archive.bucket", (c) => {
        c[`${NS}audit`].archive.bucket = "ske-production-audit";
      }),
    ).toMatch(
      /https:\/\/s3\.osl2\.ske\.example\.net\/ske-production-audit is also the audit archive of Pulumi\.production\.yaml/,
    );
  });

  it("no environment may prefix OIDC groups with system:", () => {
    expect(
      refusedAt("test", "zitadel.groupsPrefix", (c) => {
        c[`${NS}zitadel`].groupsPrefix = "system:";
      }),
    ).toMatch(/system:masters/);
  });

  it("exactly one stack owns the repository settings, across the committed stack files", () => {
    expect(
      refusedAt("production", "github.ownsRepositorySettings", (c) => {
        c[`${NS}github`].ownsRepositorySettings = false;
      }),
    ).toMatch(/no stack owns the repository settings/);
    expect(
      refusedAt("staging", "github.ownsRepositorySettings", (c) => {
        c[`${NS}github`].ownsRepositorySettings = true;
      }),
    ).toMatch(/2 stacks own the repository settings \(Pulumi\.production\.yaml, Pulumi\.staging\.yaml\)/);
    expect(
      refusedAt("test", "github.ownsRepositorySettings", (c) => {
        c[`${NS}github`].ownsRepositorySettings = true;
      }),
    ).toMatch(/2 stacks own/);
  });
});

describe("no address in config reaches another environment (overlap, not containment)", () => {
  it.each([
    [
      "access.publicExceptions[0].cidr",
      (c: Record<string, any>) => {
        c[`${NS}access`].publicExceptions = [
          {
            name: "wide",
            reason: "overlaps every environment",
            group: "jumphost",
            protocol: "tcp",
            port: 22,
            cidr: "10.0.0.0/8",
          },
        ];
      },
      /10\.0\.0\.0\/8 overlaps staging's supernet 10\.33\.0\.0\/16 and test's supernet 10\.34\.0\.0\/16/,
    ],
    [
      "access.publicExceptions[0].cidr",
      (c: Record<string, any>) => {
        c[`${NS}access`].publicExceptions = [
          {
            name: "internet",
            reason: "the whole internet, staging included",
            group: "loadbalancer",
            protocol: "tcp",
            port: 443,
            cidr: "0.0.0.0/0",
          },
        ];
      },
      /0\.0\.0\.0\/0 overlaps staging's supernet/,
    ],
    [
      "sites.osl2.dnsNameservers[0]",
      (c: Record<string, any>) => {
        c[`${NS}sites`].osl2.dnsNameservers = ["10.34.0.2"];
      },
      /10\.34\.0\.2 overlaps test's supernet/,
    ],
    [
      "audit.archive.endpoint",
      (c: Record<string, any>) => {
        c[`${NS}audit`].archive.endpoint = "https://10.33.0.9";
      },
      /host 10\.33\.0\.9 overlaps staging's supernet/,
    ],
    [
      "zitadel.issuer",
      (c: Record<string, any>) => {
        c[`${NS}zitadel`].issuer = "https://10.34.1.1";
      },
      /overlaps test's supernet/,
    ],
    [
      "audit.siem.endpoint",
      (c: Record<string, any>) => {
        c[`${NS}audit`].siem = { endpoint: "https://10.33.200.1:8088/services/collector" };
      },
      /overlaps staging's supernet/,
    ],
  ])("production refuses %s", (key, edit, message) => {
    expect(refusedAt("production", key, edit)).toMatch(message);
  });

  const pool = fc.oneof(
    // Public ranges, the environment's own space, wide ranges and every other environment's.
    fc.constantFrom("203.0.113.0/24", "198.51.100.0/27", "11.0.0.0/8", "10.0.0.0/8", "10.32.0.0/12", "0.0.0.0/0"),
    fc.tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 4, max: 32 })).map(([start, prefix]) => {
      const size = 2 ** (32 - prefix);
      return `${formatAddress(start - (start % size))}/${prefix}`;
    }),
    fc
      .constantFrom(...ENVIRONMENTS)
      .chain((env) =>
        fc
          .integer({ min: 16, max: 30 })
          .map((prefix) => `${addressPlan.environments[env].supernet.split("/")[0]}/${prefix}`),
      ),
  );
  const address = fc.oneof(
    fc.constantFrom("10.32.0.2", "10.33.0.2", "10.34.16.9", "9.9.9.9"),
    fc.integer({ min: 0, max: 2 ** 32 - 1 }).map(formatAddress),
  );

  it("property: for any generated config that is accepted, no rule of one environment admits any address of another", () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...ENVIRONMENTS),
        fc.array(pool, { minLength: 1, maxLength: 2 }),
        fc.array(pool, { maxLength: 3 }),
        fc.array(address, { maxLength: 2 }),
        (env, adminCidrs, exceptionCidrs, dns) => {
          const config = committedConfig(env);
          const values: Record<string, string> = {};
          config[`${NS}access`] = {
            adminCidrs,
            publicExceptions: exceptionCidrs.map((cidr, i) => ({
              name: `x${i}`,
              reason: "generated exception",
              group: i % 2 ? "jumphost" : "loadbalancer",
              protocol: "tcp",
              port: 443 + i,
              cidr,
            })),
          };
          config[`${NS}sites`].osl2.dnsNameservers = dns;
          for (const [k, v] of Object.entries(config))
            values[k.includes(":") ? k : `${NS}${k}`] = typeof v === "string" ? v : JSON.stringify(v);
          const foreign = ENVIRONMENTS.filter((e) => e !== env).map((e) => addressPlan.environments[e].supernet);
          const reaches = [...adminCidrs, ...exceptionCidrs, ...dns.map((a) => `${a}/32`)].some((c) =>
            foreign.some((f) => cidrOverlaps(c, f)),
          );
          let loaded;
          try {
            loaded = loadPlatformConfig({ stack: env, file: `Pulumi.${env}.yaml`, values }, addressPlan);
          } catch (err) {
            expect(err).toBeInstanceOf(ConfigError);
            // Refused only for reaching another environment, or for an admin range of the whole internet.
            expect(reaches || adminCidrs.some((c) => c.endsWith("/0")), (err as Error).message).toBe(true);
            return;
          }
          expect(reaches).toBe(false);
          accepted += 1;
          for (const site of buildPlatformPlan(loaded.config, loaded.addressPlan).sites) {
            for (const rule of site.security.rules) {
              if (rule.peer.kind !== "cidr") continue;
              for (const other of foreign) {
                expect(cidrOverlaps(rule.peer.cidr, other), `${env}/${site.name} ${rule.key} admits ${other}`).toBe(
                  false,
                );
              }
            }
          }
        },
      ),
      { numRuns: 150 },
    );
    // Enough generated configs must be accepted for the property to say something.
    expect(accepted).toBeGreaterThan(20);
  });
});

describe("no credentials in URLs", () => {
  it.each([
    [
      "audit.archive.endpoint",
      (c: Record<string, any>) => {
        c[`${NS}audit`].archive.endpoint = "https://AKIA123:s3cr3t@s3.osl2.ske.example.net";
      },
      /must not carry user:password@/,
    ],
    [
      "audit.siem.endpoint",
      (c: Record<string, any>) => {
        c[`${NS}audit`].siem = { endpoint: "https://siem.example.net/ingest?token=abc123" };
      },
      /parameter "token" looks like a credential/,
    ],
    [
      "audit.siem.endpoint",
      (c: Record<string, any>) => {
        c[`${NS}audit`].siem = { endpoint: "https://siem.example.net/hec?X-Amz-Signature=deadbeef" };
      },
      /X-Amz-Signature/,
    ],
    [
      "zitadel.issuer",
      (c: Record<string, any>) => {
        c[`${NS}zitadel`].issuer = "https://id.ske.example.net/#access_token=x";
      },
      /access_token/,
    ],
    [
      "argocd.chartRepository",
      (c: Record<string, any>) => {
        c[`${NS}argocd`].chartRepository = "https://deploy@charts.example.net";
      },
      /user:password@/,
    ],
    [
      "audit.charts.loki.repository",
      (c: Record<string, any>) => {
        c[`${NS}audit`].charts = { loki: { repository: "https://charts.example.net/?api_key=1", version: "6.44.0" } };
      },
      /api_key/,
    ],
  ])("refuses a credential in %s", (key, edit, message) => {
    expect(refusedAt("staging", key, edit)).toMatch(message);
  });

  it("accepts URLs with harmless query parameters", () => {
    expect(
      configProblemsOf("staging", (c) => {
        c[`${NS}audit`].siem = { endpoint: "https://siem.example.net/ingest?index=audit&source=ske" };
      }),
    ).toEqual([]);
  });
});

describe("the committed stack files", () => {
  it.each(ENVIRONMENTS)("Pulumi.%s.yaml passes every refusal", (stack) => {
    expect(() => loadPlatformConfig(readStackFile(stackFilePath(stack), stack), addressPlan)).not.toThrow();
  });
});
