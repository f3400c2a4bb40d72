import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  JOB_SANDBOX_PROPERTIES,
  TOOLS_VERIFIED_MARKER,
  cycleScript,
  deployRunnerCloudInit,
  installKeyScript,
  installToolsScript,
  jobScript,
  mintScript,
  type DeployRunnerCloudInitInput,
} from "../components/deploy-runner/cloud-init";
import { RESERVED_HEAD_ADDRESSES } from "../components/site-network";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { deployRunnerLabel } from "../plan/change-management";
import { DEFAULT_TOOL_PINS } from "../plan/deploy-runner-tools";
import {
  deployRunnerAddresses,
  deployRunnerSiteRules,
  reachOf,
  runnerGroupWorkflows,
  DEPLOY_RUNNER_PORT_GROUPS,
} from "../plan/deploy-runners";
import { PLANNED_RESERVED_HEAD, buildPlatformPlan } from "../plan/platform-plan";
import { deployRunnerReach, runnerForeignEgress } from "../synth/deploy-runner-reach";
import type { RecordedResource } from "../synth/mock-runtime";
import { controlOfProblem } from "../synth/refusal-report";
import { readStackFile } from "../config/stack-file";
import {
  ROOT,
  STACKS,
  committedConfig,
  ofType,
  stackFilePath,
  synthOk,
  synthStack,
  variantFile,
} from "./support/stacks";
import { configProblemsOf } from "./support/config-problems";

const P = "ske-platform:";
const INSTANCE = "openstack:compute/instance:Instance";
const PORT = "openstack:networking/port:Port";
const REMOTE_COMMAND = "command:remote:Command";
const RUNNER_GROUP = "github:index/actionsRunnerGroup:ActionsRunnerGroup";
const addressPlan = readAddressPlan();

const planOf = (stack: string) => {
  const loaded = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), addressPlan);
  return buildPlatformPlan(loaded.config, loaded.addressPlan);
};

const isRunner = (r: { inputs: Record<string, unknown> }) =>
  ((r.inputs.tags as string[] | undefined) ?? []).includes("role:deploy-runner");

describe("deploy runner rule table", () => {
  it("admits nothing into the runner group but SSH from the jump host", () => {
    const { rules } = deployRunnerSiteRules({
      clusters: ["ops", "mgmt"],
      runnersInSite: true,
      runnerAddresses: ["10.32.0.12"],
    });
    const into = rules.filter((r) => r.group === "deploy-runner");
    expect(into).toEqual([
      expect.objectContaining({
        direction: "ingress",
        protocol: "tcp",
        ports: { from: 22, to: 22 },
        peer: { kind: "group", group: "jumphost" },
      }),
    ]);
  });

  it("names the runners by group in their own site and by /32 in every other site", () => {
    const own = deployRunnerSiteRules({
      clusters: ["ops", "mgmt"],
      runnersInSite: true,
      runnerAddresses: ["10.32.0.12", "10.32.0.13"],
    }).rules;
    expect(
      own
        .filter((r) => r.group !== "deploy-runner")
        .every((r) => r.peer.kind === "group" && r.peer.group === "deploy-runner"),
    ).toBe(true);
    const other = deployRunnerSiteRules({
      clusters: ["mgmt"],
      runnersInSite: false,
      runnerAddresses: ["10.32.0.12", "10.32.0.13"],
    });
    expect(other.groups).toEqual([]);
    expect(
      other.rules.map((r) => `${r.group}<-${r.peer.kind === "cidr" ? r.peer.cidr : "group"}:${r.ports!.from}`).sort(),
    ).toEqual([
      "mgmt-controlplane<-10.32.0.12/32:50000",
      "mgmt-controlplane<-10.32.0.13/32:50000",
      "mgmt-loadbalancer<-10.32.0.12/32:6443",
      "mgmt-loadbalancer<-10.32.0.13/32:6443",
      "mgmt-worker<-10.32.0.12/32:50000",
      "mgmt-worker<-10.32.0.13/32:50000",
    ]);
  });

  it.each(STACKS)(
    "in %s, a runner reaches exactly the Talos API of every node and the API VIP of every cluster, in every site",
    (stack) => {
      const plan = planOf(stack);
      const runner = plan.deployRunner!;
      for (const address of runner.addresses) {
        const reach = reachOf({ site: runner.site, address, groups: DEPLOY_RUNNER_PORT_GROUPS }, plan.sites);
        const reached = [...new Set(reach.map((r) => `${r.site} ${r.group} ${r.protocol}/${r.ports}`))].sort();
        const expected = plan.sites
          .flatMap((site) =>
            site.clusters.flatMap((c) => [
              `${site.name} ${c.id}-controlplane tcp/50000`,
              `${site.name} ${c.id}-worker tcp/50000`,
              `${site.name} ${c.id}-loadbalancer tcp/6443`,
            ]),
          )
          .sort();
        expect(reached).toEqual(expected);
      }
    },
  );

  it("places the runners at fixed addresses of the ops site's reserved head, clear of every VIP and resolver", () => {
    expect(PLANNED_RESERVED_HEAD).toBe(RESERVED_HEAD_ADDRESSES);
    expect(deployRunnerAddresses({ subnet: "10.32.0.0/20", count: 4, reservedHead: 16, taken: ["10.32.0.2"] })).toEqual(
      ["10.32.0.12", "10.32.0.13", "10.32.0.14", "10.32.0.15"],
    );
    expect(() =>
      deployRunnerAddresses({ subnet: "10.32.0.0/20", count: 1, reservedHead: 16, taken: ["10.32.0.12"] }),
    ).toThrow(/10\.32\.0\.12.*already in use/);
    expect(() => deployRunnerAddresses({ subnet: "10.32.0.0/20", count: 5, reservedHead: 16 })).toThrow(
      /between 1 and 4/,
    );
    expect(planOf("production").deployRunner).toMatchObject({
      site: "osl2",
      addresses: ["10.32.0.12", "10.32.0.13"],
      label: deployRunnerLabel("production"),
    });
  });

  it("accepts jobs only from the named workflows on main", () => {
    expect(runnerGroupWorkflows("nordic-ske", "ske-platform", ["deploy.yml"])).toEqual([
      "nordic-ske/ske-platform/.github/workflows/deploy.yml@refs/heads/main",
    ]);
  });
});

// --- cloud-init ---------------------------------------------------------------

const tools = {
  ...DEFAULT_TOOL_PINS,
  pulumi: { version: "3.259.0", sha256: "94ba357acac23d01474084c4b00098dc0f7bc70ce13f34c777459254a5f718e5" },
};
const input: DeployRunnerCloudInitInput = {
  organization: "nordic-ske",
  runnerGroup: "ske-deploy-staging",
  label: "ske-deploy-staging",
  app: { appId: 123456, installationId: 7654321 },
  registrarPublicKey: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBt9p1rTk6pYlN7kK0Ccq7n2xqvX0c3nG6rA8e3o6yQf registrar",
  tools,
};

const hasCloudInitCli = (() => {
  try {
    execFileSync("cloud-init", ["--version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
})();

function cloudConfig(userData: string) {
  expect(userData.startsWith("#cloud-config\n")).toBe(true);
  const doc = parse(userData);
  const files = Object.fromEntries(
    (doc.write_files as { path: string; content: string; permissions: string }[]).map((f) => [f.path, f]),
  );
  return { doc, files };
}

describe("deploy runner cloud-init", () => {
  it("is a cloud-config document using only the modules it means to", () => {
    const { doc } = cloudConfig(deployRunnerCloudInit(input));
    expect(Object.keys(doc).sort()).toEqual([
      "disable_root",
      "package_update",
      "package_upgrade",
      "packages",
      "runcmd",
      "ssh_pwauth",
      "users",
      "write_files",
    ]);
    expect(doc.packages).toEqual(expect.arrayContaining(["curl", "jq", "openssl", "xz-utils"]));
  });

  // Debian's cloud-init package (apt-get install cloud-init) brings the validator; the test runs wherever it is installed.
  it.skipIf(!hasCloudInitCli)("passes cloud-init's own schema validation", () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ske-runner-")), "user-data.yaml");
    fs.writeFileSync(file, deployRunnerCloudInit(input));
    const out = execFileSync("cloud-init", ["schema", "--config-file", file], { encoding: "utf8", stdio: "pipe" });
    expect(out).toContain("Valid cloud-config");
    expect(out).not.toMatch(/deprecat/i);
  });

  it("every script it writes is valid bash", () => {
    const { files } = cloudConfig(deployRunnerCloudInit(input));
    const scripts = Object.values(files).filter((f) => f.content.startsWith("#!/bin/bash"));
    expect(scripts.length).toBe(5);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "ske-runner-"));
    for (const script of scripts) {
      const file = path.join(dir, path.basename(script.path));
      fs.writeFileSync(file, script.content);
      expect(() => execFileSync("bash", ["-n", file], { stdio: "pipe" }), script.path).not.toThrow();
    }
  });

  it("verifies every tool against its pinned SHA-256 before installing it", () => {
    const script = installToolsScript(tools);
    for (const [name, pin] of Object.entries(tools)) {
      expect(script, name).toMatch(
        new RegExp(`fetch '[^']*${pin.version.replace(/\./g, "\\.")}[^']*' '[^']+' '${pin.sha256}'`),
      );
    }
    expect(script).toContain("sha256sum --check --strict");
    expect(script).toMatch(/^set -euo pipefail$/m);
    // The marker the runner loop waits for is written last, after every check passed.
    expect(script.trim().split("\n").at(-1)).toBe(`touch ${TOOLS_VERIFIED_MARKER}`);
    expect(cycleScript()).toContain(`[ ! -e ${TOOLS_VERIFIED_MARKER} ]`);
    expect(() => installToolsScript({ ...tools, talosctl: { version: "1.11.5", sha256: "abc" } })).toThrow(
      /talosctl.*not a SHA-256/,
    );
  });

  it("enables the runner only when the tool install succeeded", () => {
    const { doc } = cloudConfig(deployRunnerCloudInit(input));
    const chained = (doc.runcmd as unknown[]).find((c) => JSON.stringify(c).includes("ske-install-tools"));
    expect(chained).toEqual([
      "sh",
      "-c",
      "/usr/local/sbin/ske-install-tools && systemctl daemon-reload && systemctl enable --now ske-runner-cycle.service",
    ]);
  });

  it("has no login but the registrar's forced command, and no secret", () => {
    const userData = deployRunnerCloudInit(input);
    const { doc, files } = cloudConfig(userData);
    expect(doc.users).toHaveLength(1);
    expect(doc.users[0].ssh_authorized_keys).toEqual([
      `restrict,command="/usr/local/sbin/ske-runner-install-key" ${input.registrarPublicKey}`,
    ]);
    expect(files["/etc/ssh/sshd_config.d/50-ske.conf"]!.content).toMatch(/^AllowUsers ske-registrar$/m);
    expect(userData).not.toMatch(/PRIVATE KEY|ghp_|ghs_|github_pat_|--token/);
    expect(files["/etc/ske-runner/runner.env"]!.content).toContain(`SKE_RUNNER_LABEL=${input.label}`);
  });

  it("runs each job as a throw-away user in a fresh sandbox and wipes it afterwards", () => {
    expect(JOB_SANDBOX_PROPERTIES).toEqual(
      expect.arrayContaining([
        "DynamicUser=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "CapabilityBoundingSet=",
        "InaccessiblePaths=/var/lib/ske-registrar",
      ]),
    );
    const cycle = cycleScript();
    for (const property of JOB_SANDBOX_PROPERTIES) expect(cycle).toContain(`--property='${property}'`);
    expect(cycle).toMatch(
      /trap 'rm -f "\$jit"; rm -rf \/var\/lib\/private\/ske-runner-job \/var\/lib\/ske-runner-job' EXIT/,
    );
    // A new just-in-time config, hence a new registration, for every pass.
    expect(cycle).toContain("runuser -u ske-registrar -- /usr/local/libexec/ske-runner-mint");
    expect(jobScript()).toContain('cp -a --no-preserve=ownership /opt/actions-runner/. "$STATE_DIRECTORY/runner/"');
    expect(jobScript()).toContain('--jitconfig "$(cat "$CREDENTIALS_DIRECTORY/jit")"');
  });

  it("keeps credentials off argv and out of output", () => {
    const mint = mintScript();
    expect(mint).toContain("--config -");
    expect(mint).not.toMatch(/-H "Authorization/);
    expect(mint).not.toMatch(/set -x|echo "\$token|echo "\$jwt/);
    expect(installKeyScript()).toContain("umask 077");
    expect(installKeyScript()).not.toMatch(/cat "\$tmp"|echo "\$/);
  });
});

// --- configuration ------------------------------------------------------------

describe("deploy runner configuration", () => {
  const cases: Array<[string, (c: Record<string, any>) => void, string, RegExp]> = [
    [
      "no runners while the clusters layer is on",
      (c) => {
        delete c[`${P}runners`];
      },
      `${P}runners`,
      /required while layers.clusters is on/,
    ],
    [
      "five runners",
      (c) => {
        c[`${P}runners`].count = 5;
      },
      `${P}runners.count`,
      /at most 4 runners fit the reserved head/,
    ],
    [
      "a checksum that is not a SHA-256",
      (c) => {
        c[`${P}runners`].tools.pulumi.sha256 = "94ba357a";
      },
      `${P}runners.tools.pulumi.sha256`,
      /64 lower-case hex digits/,
    ],
    [
      "no Pulumi CLI pin",
      (c) => {
        delete c[`${P}runners`].tools.pulumi;
      },
      `${P}runners.tools.pulumi`,
      /required key is missing/,
    ],
    [
      "a version range",
      (c) => {
        c[`${P}runners`].tools.pulumi.version = "^3.259.0";
      },
      `${P}runners.tools.pulumi.version`,
      /exact release version/,
    ],
    [
      "talosctl of another minor than the clusters",
      (c) => {
        c[`${P}runners`].tools.talosctl = {
          version: "1.9.3",
          sha256: "41e69f4f856cbaf8271f70f227354a0e75763c67046b38996ec2abd069bde26e",
        };
      },
      `${P}runners.tools.talosctl.version`,
      /does not match clusters.talosVersion 1.11.5/,
    ],
    [
      "a registrar key without its App",
      (c) => {
        c[`${P}runnerRegistrarKey`] = { secure: "v1:AAAA" };
      },
      `${P}runners.registration`,
      /runnerRegistrarKey is set, but not the GitHub App/,
    ],
    [
      "a misspelt runner key",
      (c) => {
        c[`${P}runners`].flavour = "c2.large";
      },
      `${P}runners.flavour`,
      /unknown key; allowed here: count, flavor/,
    ],
    [
      "a runner group open to every workflow",
      (c) => {
        c[`${P}runners`].workflows = "any";
      },
      `${P}runners.workflows`,
      /staging's runner group must name the workflows it serves .*"any" would let a job on any branch run inside staging's network/,
    ],
  ];

  it("accepts a runner group open to every workflow in test only, whose previews run pull-request code by design", () => {
    expect(committedConfig("test")[`${P}runners`].workflows).toBe("any");
    expect(configProblemsOf("test", () => {})).toEqual([]);
    const production = configProblemsOf("production", (c) => {
      c[`${P}runners`].workflows = "any";
    });
    expect(production.map((p) => `${p.file} ${p.key}`)).toEqual([
      "Pulumi.production.yaml ske-platform:runners.workflows",
    ]);
    // The refused report names change management as the control at stake.
    expect(controlOfProblem(production[0]!)).toBe("6.2");
  });

  it.each(cases)("refuses %s, naming the key and the file", (_what, edit, key, message) => {
    const problems = configProblemsOf("staging", edit);
    const problem = problems.find((p) => p.key === key);
    expect(problem, JSON.stringify(problems)).toBeDefined();
    expect(problem!.file).toBe("Pulumi.staging.yaml");
    expect(problem!.message).toMatch(message);
  });

  it("registers no resource when the runner config is refused", async () => {
    const result = await synthStack(
      "production",
      variantFile("production", (c) => {
        c[`${P}runners`].tools.pulumi.sha256 = "not-a-digest";
      }),
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain("Pulumi.production.yaml: ske-platform:runners.tools.pulumi.sha256");
    expect((result.registered ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });

  it("defaults talosctl to the clusters' Talos release and Node to the repository's own", () => {
    for (const stack of STACKS) {
      expect(committedConfig(stack)[`${P}clusters`].talosVersion).toBe(DEFAULT_TOOL_PINS.talosctl.version);
    }
    const lock = JSON.parse(fs.readFileSync(path.join(ROOT, "package-lock.json"), "utf8"));
    expect(lock.packages["node_modules/node"].version).toBe(DEFAULT_TOOL_PINS.node.version);
  });
});

// --- the program under mocks ------------------------------------------------

describe.each(STACKS)("the deploy runners of %s under mocks", (stack) => {
  it("exist in the ops site with fixed addresses, the runner and egress groups, and no keypair", async () => {
    const run = await synthOk(stack);
    const plan = planOf(stack);
    const ports = ofType(run.resources, PORT).filter(isRunner);
    const instances = ofType(run.resources, INSTANCE).filter(isRunner);
    expect(ports.map((p) => (p.inputs.fixedIps as { ipAddress: string }[])[0]!.ipAddress)).toEqual(
      plan.deployRunner!.addresses,
    );
    for (const port of ports) {
      expect(port.inputs.securityGroupIds).toEqual([
        `${stack}-${plan.opsSite}-deploy-runner_id`,
        `${stack}-${plan.opsSite}-egress_id`,
      ]);
    }
    expect(instances).toHaveLength(plan.deployRunner!.addresses.length);
    for (const instance of instances) {
      expect(instance.name.startsWith(`${stack}-${plan.opsSite}-deploy-runner-`)).toBe(true);
      expect(instance.inputs.keyPair).toBeUndefined();
      expect(instance.inputs.metadata).toMatchObject({
        role: "deploy-runner",
        "runner-label": deployRunnerLabel(stack as "production"),
      });
    }
    expect(run.outputs).toMatchObject({
      deployRunners: { label: deployRunnerLabel(stack as "production"), site: plan.opsSite },
    });
  });

  it("put no secret in user data and register with exactly the label deploy jobs ask for", async () => {
    const run = await synthOk(stack);
    for (const instance of ofType(run.resources, INSTANCE).filter(isRunner)) {
      expect(instance.secretPaths).not.toContain("userData");
      const userData = instance.inputs.userData as string;
      expect(userData).not.toMatch(/PRIVATE KEY|\[secret\]/);
      const env = parse(userData).write_files.find((f: { path: string }) => f.path === "/etc/ske-runner/runner.env")
        .content as string;
      expect(env).toContain(`SKE_RUNNER_LABEL=${deployRunnerLabel(stack as "production")}\n`);
      expect(env).toContain(`SKE_RUNNER_GROUP=${deployRunnerLabel(stack as "production")}\n`);
      // A deploy never replaces its own runner; the digest shows when a runner is behind the code.
      expect((instance.inputs.metadata as Record<string, string>)["user-data-sha256"]).toBe(
        createHash("sha256").update(userData).digest("hex"),
      );
    }
  });

  it("reach their own environment's Talos API and VIPs and nothing of another environment", async () => {
    const run = await synthOk(stack);
    const rows = deployRunnerReach(run.resources, stack, run.sites);
    expect(rows.length).toBeGreaterThan(0);
    const own = addressPlan.environments[stack as "production"].supernet;
    for (const row of rows) {
      expect(`${row.group} ${row.ports}`, `${row.runner} -> ${row.site}`).toMatch(
        /^((ops|mgmt)-(controlplane|worker) tcp\/50000|(ops|mgmt)-loadbalancer tcp\/6443)$/,
      );
      if (!row.via.startsWith("group ")) expect(row.via.startsWith(own.split(".").slice(0, 2).join("."))).toBe(true);
    }
    expect(new Set(rows.map((r) => r.site))).toEqual(new Set(run.sites));
  });
});

describe("what synth shows of the runners", () => {
  it("prints each runner's reach after the matrix, and compliance.md states their egress into other environments", async () => {
    const run = await synthOk("production");
    expect(run.summary).toContain(
      "Deploy runners of production and everything their ports are admitted to (runner ports carry: deploy-runner, egress):",
    );
    expect(run.summary).toMatch(
      /production-osl2-deploy-runner-0 \(10\.32\.0\.12\)\s+sto2\s+mgmt-controlplane\s+10\.32\.0\.12\/32\s+tcp\/50000/,
    );
    expect(run.summary).toMatch(
      /production-osl2-deploy-runner-1 \(10\.32\.0\.13\)\s+osl2\s+ops-loadbalancer\s+group deploy-runner\s+tcp\/6443/,
    );
    expect(run.compliance.report).toContain(
      "| production-osl2-deploy-runner-0 | sto2 | mgmt-loadbalancer | 10.32.0.12/32 | tcp/6443 |",
    );
    expect(run.compliance.report).toContain(
      "- Egress of the runners' groups into another environment (`10.33.0.0/16`, `10.34.0.0/16`): none.",
    );
  });
});

describe("the read-back of runner reach", () => {
  const record = (type: string, name: string, inputs: Record<string, unknown>): RecordedResource => ({
    type,
    name,
    parent: null,
    inputs,
    custom: true,
    options: { protect: false, retainOnDelete: false, dependsOn: [] },
    secretPaths: [],
  });
  const resources = [
    record("openstack:networking/secGroup:SecGroup", "production-osl2-egress", {}),
    record("openstack:networking/secGroup:SecGroup", "production-osl2-deploy-runner", {}),
    record("openstack:networking/secGroup:SecGroup", "production-osl2-mgmt-controlplane", {}),
    record(PORT, "production-osl2-deploy-runner-0", {
      tags: ["role:deploy-runner"],
      fixedIps: [{ ipAddress: "10.32.0.12" }],
      securityGroupIds: ["production-osl2-deploy-runner_id", "production-osl2-egress_id"],
    }),
    record("openstack:networking/secGroupRule:SecGroupRule", "bad-egress", {
      direction: "egress",
      securityGroupId: "production-osl2-egress_id",
      remoteIpPrefix: "10.33.0.0/16",
    }),
    record("openstack:networking/secGroupRule:SecGroupRule", "etcd", {
      direction: "ingress",
      securityGroupId: "production-osl2-mgmt-controlplane_id",
      remoteGroupId: "production-osl2-deploy-runner_id",
      protocol: "tcp",
      portRangeMin: 2379,
      portRangeMax: 2380,
    }),
  ];

  it("reports a runner group's egress into another environment and any rule that admits a runner", () => {
    expect(runnerForeignEgress(resources, "production", ["osl2"], ["10.33.0.0/16", "10.34.0.0/16"])).toEqual([
      "10.33.0.0/16",
    ]);
    expect(deployRunnerReach(resources, "production", ["osl2"])).toEqual([
      {
        runner: "production-osl2-deploy-runner-0",
        address: "10.32.0.12",
        site: "osl2",
        group: "mgmt-controlplane",
        via: "group deploy-runner",
        ports: "tcp/2379-2380",
      },
    ]);
  });
});

describe("registration under mocks", () => {
  const marker = "REGISTRAR-KEY-MARKER-7f3a";
  const withRegistration = (key: unknown) =>
    variantFile("staging", (c) => {
      c[`${P}runners`].registration = { repositoryId: 812345678, appId: 912345, installationId: 51234567 };
      c[`${P}runnerRegistrarKey`] = key;
    });

  it("declares a runner group for this repository and, on main only, the workflows whose jobs run on it", async () => {
    const run = await synthOk("staging", withRegistration({ secure: "v1:AAAA" }));
    const groups = ofType(run.resources, RUNNER_GROUP);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.inputs).toMatchObject({
      name: deployRunnerLabel("staging"),
      visibility: "selected",
      selectedRepositoryIds: [812345678],
      allowsPublicRepositories: false,
      restrictedToWorkflows: true,
      selectedWorkflows: [
        "nordic-ske/ske-platform/.github/workflows/pulumi-stack.yml@refs/heads/main",
        "nordic-ske/ske-platform/.github/workflows/drift.yml@refs/heads/main",
        "nordic-ske/ske-platform/.github/workflows/preview-privileged.yml@refs/heads/main",
      ],
    });
  });

  it("leaves test's runner group open to every workflow of the repository, and only this repository", async () => {
    const file = variantFile("test", (c) => {
      c[`${P}runners`].registration = { repositoryId: 812345678, appId: 912345, installationId: 51234567 };
    });
    const run = await synthOk("test", file);
    const groups = ofType(run.resources, RUNNER_GROUP);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.inputs).toMatchObject({
      name: deployRunnerLabel("test"),
      selectedRepositoryIds: [812345678],
      allowsPublicRepositories: false,
      restrictedToWorkflows: false,
    });
    expect(groups[0]!.inputs).not.toHaveProperty("selectedWorkflows");
  });

  it("delivers the registrar key over SSH as a secret, never in user data, state or outputs in plain", async () => {
    const run = await synthOk(
      "staging",
      withRegistration(`-----BEGIN RSA PRIVATE KEY-----\n${marker}\n-----END RSA PRIVATE KEY-----\n`),
    );
    const deliveries = ofType(run.resources, REMOTE_COMMAND);
    expect(deliveries).toHaveLength(1);
    expect(deliveries[0]!.secretPaths).toEqual(expect.arrayContaining(["stdin", "connection"]));
    expect(deliveries[0]!.inputs).toMatchObject({
      create: "/usr/local/sbin/ske-runner-install-key",
      addPreviousOutputInEnv: false,
    });
    for (const instance of ofType(run.resources, INSTANCE).filter(isRunner)) {
      expect(instance.secretPaths, instance.name).not.toContain("userData");
      expect(instance.inputs.userData).toEqual(expect.stringMatching(/^#cloud-config\n/));
    }
    expect(JSON.stringify(run.resources)).not.toContain(marker);
    expect(JSON.stringify(run.outputs)).not.toContain(marker);
    expect(run.outputs).toMatchObject({
      deployRunners: { registration: "registrar key delivered from the jump host" },
    });
  });

  it("without registration, declares the runners but neither a group nor a delivery", async () => {
    const run = await synthOk("staging");
    expect(ofType(run.resources, RUNNER_GROUP)).toEqual([]);
    expect(ofType(run.resources, REMOTE_COMMAND)).toEqual([]);
    expect(run.outputs).toMatchObject({ deployRunners: { registration: expect.stringMatching(/^waiting for/) } });
  });
});
