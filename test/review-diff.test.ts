import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { diffSnapshots, EXIT_CODES, overallOutcome, REBUILD_ON, REPLACE_ON, type StackDiff } from "../synth/diff";
import {
  complianceFromMarkdown,
  secretConfigDigests,
  snapshotOf,
  type PolicyOutcome,
  type SynthSnapshot,
} from "../synth/diff-input";
import { GITHUB_COMMENT_LIMIT, renderMarkdown, renderText } from "../synth/diff-render";
import { secretDigest, withSecretDigests, type DigestedResource } from "../synth/secret-digest";
import { ROOT, stackFilePath, synthOk, variantFile } from "./support/stacks";

const CONTEXT = {
  ownSupernet: "10.32.0.0/16",
  foreignSupernets: { staging: "10.33.0.0/16", test: "10.34.0.0/16" },
};
const KEY = "test-run-key";
const SG = "openstack:networking/secGroup:SecGroup";
const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const INSTANCE = "openstack:compute/instance:Instance";

function resource(
  type: string,
  name: string,
  inputs: Record<string, unknown> = {},
  extra: Partial<DigestedResource> = {},
): DigestedResource {
  return {
    type,
    name,
    parent: "ske-platform-production",
    inputs,
    custom: true,
    options: { protect: false, retainOnDelete: false, dependsOn: [] },
    secretPaths: [],
    ...extra,
  };
}

/** A resource with one secret input, recorded the way synth records it: "[secret]" plus a keyed digest. */
function withSecret(r: DigestedResource, secretPath: string, value: string): DigestedResource {
  return {
    ...r,
    inputs: { ...r.inputs, [secretPath]: "[secret]" },
    secretPaths: [secretPath],
    secretDigests: { [secretPath]: secretDigest(value, KEY) },
  };
}

function siteResources(site: string): DigestedResource[] {
  return [
    resource(SG, `production-${site}-cp`, { name: `production-${site}-cp` }),
    resource(SG, `production-${site}-jumphost`, { name: `production-${site}-jumphost` }),
    resource(RULE, `production-${site}-cp-apid-from-jumphost`, {
      direction: "ingress",
      protocol: "tcp",
      portRangeMin: 50000,
      portRangeMax: 50001,
      securityGroupId: `production-${site}-cp_id`,
      remoteGroupId: `production-${site}-jumphost_id`,
    }),
    resource(RULE, `production-${site}-jumphost-ssh-from-admins`, {
      direction: "ingress",
      protocol: "tcp",
      portRangeMin: 22,
      portRangeMax: 22,
      securityGroupId: `production-${site}-jumphost_id`,
      remoteIpPrefix: "10.32.240.0/24",
    }),
  ];
}

const PASSING: PolicyOutcome[] = [
  {
    name: "production-admits-no-staging-or-test",
    control: "6.3/6.4",
    enforcement: "mandatory",
    status: "pass",
    violations: [],
  },
  { name: "production-state-protected", control: "6.2", enforcement: "mandatory", status: "pass", violations: [] },
];

function snapshot(resources: DigestedResource[], extra: Partial<SynthSnapshot> = {}): SynthSnapshot {
  return {
    environment: "production",
    sites: ["osl2"],
    resources,
    compliance: {
      verdict: "Compliance of production: PASS, 2 of 2 policies pass",
      failedControls: [],
      results: PASSING,
    },
    secretConfig: {},
    ...extra,
  };
}

const everything = (diff: StackDiff) => [JSON.stringify(diff), renderText(diff), renderMarkdown([diff])].join("\n");

describe("the review diff over two synth outputs", () => {
  it("reports no change, and exit code 0, when nothing differs", () => {
    const base = snapshot(siteResources("osl2"));
    const diff = diffSnapshots(base, structuredClone(base), CONTEXT);
    expect(diff.outcome).toBe("no-change");
    expect(diff.resources).toEqual({ added: [], removed: [], changed: [] });
    expect(diff.rules).toEqual([]);
    expect(diff.weakenings).toEqual([]);
    expect(EXIT_CODES[diff.outcome]).toBe(0);
    expect(renderText(diff)).toBe("== production: no change");
  });

  it("marks loudly a rule that admits another environment's addresses, as a change that weakens a control", () => {
    const base = snapshot(siteResources("osl2"));
    const head = snapshot(
      [
        ...siteResources("osl2"),
        resource(RULE, "production-osl2-cp-api-from-staging", {
          direction: "ingress",
          protocol: "tcp",
          portRangeMin: 6443,
          portRangeMax: 6443,
          securityGroupId: "production-osl2-cp_id",
          remoteIpPrefix: "10.33.4.0/24",
        }),
      ],
      {
        compliance: {
          verdict: "Compliance of production: FAIL",
          failedControls: ["6.3/6.4"],
          results: [
            { ...PASSING[0]!, status: "fail", violations: ["production-osl2-cp-api-from-staging: overlaps staging"] },
            PASSING[1]!,
          ],
        },
      },
    );
    const diff = diffSnapshots(base, head, CONTEXT);
    expect(diff.rules).toEqual([
      {
        site: "osl2",
        group: "cp",
        direction: "ingress",
        peer: "10.33.4.0/24",
        ports: "tcp/6443",
        change: "added",
        alarms: ["ADMITS STAGING ADDRESSES (10.33.0.0/16)", "from outside the environment's supernet (10.32.0.0/16)"],
      },
    ]);
    expect(diff.compliance.policies).toEqual([
      {
        name: "production-admits-no-staging-or-test",
        control: "6.3/6.4",
        before: "pass",
        after: "fail",
        weakens: true,
      },
    ]);
    expect(diff.weakenings.map((w) => w.control).sort()).toEqual(["6.3/6.4", "security groups"]);
    expect(diff.outcome).toBe("weakens");
    expect(EXIT_CODES[diff.outcome]).toBe(4);
    expect(renderText(diff)).toContain("<-- ADMITS STAGING ADDRESSES (10.33.0.0/16)");
    expect(renderMarkdown([diff])).toContain("🚨 **ADMITS STAGING ADDRESSES (10.33.0.0/16)");
  });

  it("marks a rule open to 0.0.0.0/0, and one with neither prefix nor group, as open to any address", () => {
    const open = (name: string, prefix?: string) =>
      resource(RULE, name, {
        direction: "ingress",
        protocol: "tcp",
        portRangeMin: 443,
        portRangeMax: 443,
        securityGroupId: "production-osl2-jumphost_id",
        ...(prefix ? { remoteIpPrefix: prefix } : {}),
      });
    const diff = diffSnapshots(
      snapshot(siteResources("osl2")),
      snapshot([...siteResources("osl2"), open("a", "0.0.0.0/0"), open("b")]),
      CONTEXT,
    );
    expect(diff.rules.map((r) => [r.peer, r.alarms[0]])).toEqual([["0.0.0.0/0", "OPEN TO ANY ADDRESS (0.0.0.0/0)"]]);
    expect(diff.outcome).toBe("weakens");
  });

  it("shows a new site as added resources and rules in that site, a change that weakens nothing", () => {
    const base = snapshot(siteResources("osl2"));
    const head = snapshot([...siteResources("osl2"), ...siteResources("sto2")], { sites: ["osl2", "sto2"] });
    const diff = diffSnapshots(base, head, CONTEXT);
    expect(diff.sites.added).toEqual(["sto2"]);
    expect(diff.resources.added.map((r) => r.site)).toEqual(["sto2", "sto2", "sto2", "sto2"]);
    expect(diff.rules.map((r) => `${r.change} ${r.site} ${r.group} ${r.peer} ${r.ports}`)).toEqual([
      "added sto2 cp group jumphost tcp/50000-50001",
      "added sto2 jumphost 10.32.240.0/24 tcp/22",
    ]);
    expect(diff.rules.every((r) => r.alarms.length === 0)).toBe(true);
    expect(diff.outcome).toBe("changes");
    expect(EXIT_CODES[diff.outcome]).toBe(3);
  });

  it("shows a rotated secret as changed, never its value, and counts the Talos node it replaces as irreversible", () => {
    const node = (userData: string) =>
      withSecret(
        resource(INSTANCE, "production-osl2-mgmt-worker-0", {
          imageId: "img-1",
          metadata: { "node-role": "worker", cluster: "production-osl2-mgmt" },
        }),
        "userData",
        userData,
      );
    const base = snapshot([...siteResources("osl2"), node("machine: {token: old-join-token-4f2a}")]);
    const head = snapshot([...siteResources("osl2"), node("machine: {token: new-join-token-9c1e}")]);
    const diff = diffSnapshots(base, head, CONTEXT);
    expect(diff.resources.changed).toEqual([
      {
        type: INSTANCE,
        name: "production-osl2-mgmt-worker-0",
        site: "osl2",
        changes: [{ path: "userData", kind: "secret" }],
        operation: "replace",
        forcedBy: ["userData"],
      },
    ]);
    expect(diff.irreversible).toEqual([
      {
        type: INSTANCE,
        name: "production-osl2-mgmt-worker-0",
        site: "osl2",
        operation: "replace",
        what: ["Talos node"],
        forcedBy: ["userData"],
      },
    ]);
    const shown = everything(diff);
    expect(shown).toContain("userData: changed (secret, value hidden)");
    expect(shown).not.toContain("join-token");
  });

  it("reports a rotated stack-file secret by its key only", () => {
    const before = secretConfigDigests("config:\n  ske-platform:zitadel:\n    clientSecret:\n      secure: v1:AAAA\n");
    const after = secretConfigDigests("config:\n  ske-platform:zitadel:\n    clientSecret:\n      secure: v1:BBBB\n");
    const diff = diffSnapshots(snapshot([], { secretConfig: before }), snapshot([], { secretConfig: after }), CONTEXT);
    expect(diff.secretConfig).toEqual([{ key: "ske-platform:zitadel.clientSecret", change: "changed" }]);
    expect(diff.outcome).toBe("changes");
    expect(everything(diff)).not.toMatch(/v1:AAAA|v1:BBBB/);
  });

  it("says an unchanged secret is unchanged, and one that becomes plain weakens a control", () => {
    const r = (inputs: Record<string, unknown>, secret: boolean) =>
      secret
        ? withSecret(
            resource("kubernetes:core/v1:Secret", "production-osl2-ops-archive-s3", inputs),
            "stringData",
            "s3-secret-value",
          )
        : resource("kubernetes:core/v1:Secret", "production-osl2-ops-archive-s3", inputs);
    const same = diffSnapshots(snapshot([r({}, true)]), snapshot([r({}, true)]), CONTEXT);
    expect(same.outcome).toBe("no-change");
    const exposed = diffSnapshots(
      snapshot([r({}, true)]),
      snapshot([r({ stringData: "s3-secret-value" }, false)]),
      CONTEXT,
    );
    expect(exposed.resources.changed[0]!.changes).toEqual([{ path: "stringData", kind: "no-longer-secret" }]);
    expect(exposed.weakenings).toEqual([
      { control: "secrets", message: "production-osl2-ops-archive-s3: input stringData is no longer a secret" },
    ]);
  });

  it("lists the replacement of a protected control-plane node as an operation that cannot be undone", () => {
    const cp = (zone: string) =>
      resource(
        INSTANCE,
        "production-osl2-ops-cp-0",
        {
          availabilityZone: zone,
          imageId: "img-1",
          metadata: { "node-role": "controlplane" },
        },
        { options: { protect: true, retainOnDelete: true, dependsOn: [] } },
      );
    const diff = diffSnapshots(snapshot([cp("osl2-a")]), snapshot([cp("osl2-b")]), CONTEXT);
    expect(diff.resources.changed[0]).toMatchObject({ operation: "replace", forcedBy: ["availabilityZone"] });
    expect(diff.irreversible).toEqual([
      {
        type: INSTANCE,
        name: "production-osl2-ops-cp-0",
        site: "osl2",
        operation: "replace",
        what: ["control-plane node (etcd member)", "protected"],
        forcedBy: ["availabilityZone"],
      },
    ]);
    expect(diff.outcome).toBe("weakens");
    expect(renderText(diff)).toContain(
      "!! replace openstack:compute/instance:Instance production-osl2-ops-cp-0 (control-plane node (etcd member), protected) forced by availabilityZone",
    );
  });

  it("treats a new image as a rebuild of a Talos node, and a flavor change as an update", () => {
    const node = (inputs: Record<string, unknown>) =>
      resource(INSTANCE, "production-osl2-ops-worker-1", { metadata: { "node-role": "worker" }, ...inputs });
    const rebuilt = diffSnapshots(snapshot([node({ imageId: "a" })]), snapshot([node({ imageId: "b" })]), CONTEXT);
    expect(rebuilt.irreversible.map((o) => o.operation)).toEqual(["rebuild"]);
    const resized = diffSnapshots(
      snapshot([node({ flavorName: "m1" })]),
      snapshot([node({ flavorName: "m2" })]),
      CONTEXT,
    );
    expect(resized.resources.changed[0]).toMatchObject({
      operation: "update",
      changes: [{ path: "flavorName", kind: "value", before: "m1", after: "m2" }],
    });
    expect(resized.irreversible).toEqual([]);
    expect(resized.outcome).toBe("changes");
  });

  it("does not count a change to an input the program ignores after create (ignoreChanges): the engine sends the old value", () => {
    const node = (userData: string, imageId: string, ignore: boolean) =>
      resource(
        INSTANCE,
        "production-osl2-ops-cp-0",
        { userData, imageId, metadata: { "node-role": "controlplane" } },
        {
          options: {
            protect: true,
            retainOnDelete: true,
            dependsOn: [],
            ...(ignore ? { ignoreChanges: ["userData", "imageId"] } : {}),
          },
        },
      );
    const ignored = diffSnapshots(snapshot([node("a", "img-1", true)]), snapshot([node("b", "img-2", true)]), CONTEXT);
    expect(ignored.outcome).toBe("no-change");
    expect(ignored.irreversible).toEqual([]);
    const honoured = diffSnapshots(
      snapshot([node("a", "img-1", false)]),
      snapshot([node("b", "img-2", false)]),
      CONTEXT,
    );
    expect(honoured.irreversible.map((o) => [o.operation, o.forcedBy])).toEqual([["replace", ["userData"]]]);
  });

  it("counts deleting a machine secret, found by its parent component, as irreversible", () => {
    const component = resource("ske:talos:MachineSecrets", "production-osl2-ops-secrets", {}, { custom: false });
    const key = resource(
      "tls:index/privateKey:PrivateKey",
      "production-osl2-ops-secrets-etcd-ca",
      { algorithm: "ECDSA" },
      { parent: "production-osl2-ops-secrets" },
    );
    const diff = diffSnapshots(snapshot([component, key]), snapshot([component]), CONTEXT);
    expect(diff.irreversible).toEqual([
      {
        type: "tls:index/privateKey:PrivateKey",
        name: "production-osl2-ops-secrets-etcd-ca",
        site: "osl2",
        operation: "delete",
        what: ["machine secret (cluster CA and keys)"],
        forcedBy: [],
      },
    ]);
  });

  it("weakens a control when protection is dropped, a policy goes from pass to not applicable, or a ruleset changes", () => {
    const r = (protect: boolean) =>
      resource(
        "ske:audit:AuditArchiveBucket",
        "production-audit-archive",
        {},
        { custom: false, options: { protect, retainOnDelete: protect, dependsOn: [] } },
      );
    const unprotected = diffSnapshots(snapshot([r(true)]), snapshot([r(false)]), CONTEXT);
    expect(unprotected.weakenings.map((w) => w.message)).toEqual([
      "production-audit-archive loses protect",
      "production-audit-archive loses retainOnDelete",
    ]);

    const quiet = diffSnapshots(
      snapshot([]),
      snapshot([], {
        compliance: {
          verdict: "PASS",
          failedControls: [],
          results: [PASSING[0]!, { ...PASSING[1]!, status: "not-applicable" }],
        },
      }),
      CONTEXT,
    );
    expect(quiet.weakenings).toEqual([
      { control: "6.2", message: "policy production-state-protected: pass -> not-applicable" },
    ]);

    const ruleset = (checks: string[]) =>
      resource("github:index/repositoryRuleset:RepositoryRuleset", "production-iac-main", {
        rules: { requiredStatusChecks: checks },
      });
    const fewerChecks = diffSnapshots(
      snapshot([ruleset(["synth", "review-diff-gate"])]),
      snapshot([ruleset(["synth"])]),
      CONTEXT,
    );
    expect(fewerChecks.weakenings.map((w) => w.control)).toEqual(["6.2"]);
  });

  it("gives the worst outcome over several stacks", () => {
    const none = diffSnapshots(snapshot([]), snapshot([]), CONTEXT);
    const some = diffSnapshots(snapshot([]), snapshot(siteResources("osl2")), CONTEXT);
    expect(overallOutcome([none, none])).toBe("no-change");
    expect(overallOutcome([none, some])).toBe("changes");
  });
});

describe("the pull-request comment", () => {
  it("stays within GitHub's comment limit however large the change, linking the full diff", () => {
    const many = Array.from({ length: 3000 }, (_, i) =>
      resource(RULE, `production-osl2-cp-rule-${i}`, {
        direction: "ingress",
        protocol: "tcp",
        portRangeMin: 1000 + i,
        portRangeMax: 1000 + i,
        securityGroupId: "production-osl2-cp_id",
        remoteIpPrefix: `10.32.${i % 250}.0/24`,
      }),
    );
    const diff = diffSnapshots(snapshot(siteResources("osl2")), snapshot([...siteResources("osl2"), ...many]), CONTEXT);
    const body = renderMarkdown([diff, diff, diff], {
      artifactUrl: "https://github.com/o/r/actions/runs/1/artifacts/2",
    });
    expect(body.length).toBeLessThanOrEqual(GITHUB_COMMENT_LIMIT - 1000);
    expect(body).toContain("Full diff: [review-diff artifact](https://github.com/o/r/actions/runs/1/artifacts/2)");
    expect(body).toContain("| `openstack:networking/secGroupRule:SecGroupRule` | osl2 | 3000 |");
  });

  it("folds long lists behind <details>", () => {
    const many = Array.from({ length: 20 }, (_, i) =>
      resource("kubernetes:core/v1:Namespace", `production-osl2-ns-${i}`),
    );
    const body = renderMarkdown([diffSnapshots(snapshot([]), snapshot(many), CONTEXT)]);
    expect(body).toContain("<details><summary>`kubernetes:core/v1:Namespace` (20)</summary>");
  });
});

describe("secret digests", () => {
  it("are equal for equal values under one key, differ for other values or keys, and never contain the value", () => {
    expect(secretDigest("hunter2", "k1")).toBe(secretDigest("hunter2", "k1"));
    expect(secretDigest("hunter2", "k1")).not.toBe(secretDigest("hunter3", "k1"));
    expect(secretDigest("hunter2", "k1")).not.toBe(secretDigest("hunter2", "k2"));
    expect(secretDigest("hunter2", "k1")).not.toContain("hunter2");
  });

  it("are recorded by synth from the raw inputs, for every secret path", () => {
    const envelope = (value: unknown) => ({
      "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
      value,
    });
    const recorded = resource(INSTANCE, "n", { userData: "[secret]", name: "n" }, { secretPaths: ["userData"] });
    const [digested] = withSecretDigests(
      [recorded],
      new Map([[`${INSTANCE}::n`, { userData: envelope("talos config"), name: "n" }]]),
      "k",
    );
    expect(digested!.secretDigests).toEqual({ userData: secretDigest("talos config", "k") });
    expect(JSON.stringify(digested)).not.toContain("talos config");
  });
});

describe("replacement rules", () => {
  // The provider SDKs document which arguments force a new resource; the table must not claim more.
  const sdkFile: Record<string, string> = {
    "openstack:compute/instance:Instance": "openstack/compute/instance.d.ts",
    "openstack:networking/port:Port": "openstack/networking/port.d.ts",
    "openstack:networking/secGroupRule:SecGroupRule": "openstack/networking/secGroupRule.d.ts",
    "openstack:networking/secGroup:SecGroup": "openstack/networking/secGroup.d.ts",
    "openstack:compute/serverGroup:ServerGroup": "openstack/compute/serverGroup.d.ts",
    "openstack:networking/subnet:Subnet": "openstack/networking/subnet.d.ts",
    "openstack:networking/network:Network": "openstack/networking/network.d.ts",
    "openstack:networking/router:Router": "openstack/networking/router.d.ts",
    "openstack:networking/routerInterface:RouterInterface": "openstack/networking/routerInterface.d.ts",
    "openstack:identity/ec2CredentialV3:Ec2CredentialV3": "openstack/identity/ec2CredentialV3.d.ts",
  };
  function documented(type: string, pattern: RegExp): string[] {
    const text = fs.readFileSync(path.join(ROOT, "node_modules", "@pulumi", sdkFile[type]!), "utf8");
    const args = /export interface \w+Args \{([\s\S]*?)\n\}/.exec(text)![1]!;
    return [...args.matchAll(/\/\*\*([\s\S]*?)\*\/\s*\n\s*(\w+)\??:/g)]
      .filter((m) => pattern.test(m[1]!.replace(/\s*\*\s*/g, " ")))
      .map((m) => m[2]!);
  }

  it.each(Object.keys(REPLACE_ON))("%s: every input listed as forcing replacement is documented so", (type) => {
    const forcing = documented(type, /creates a new|forces a new|new resource to be created/i);
    expect(forcing).toEqual(expect.arrayContaining([...REPLACE_ON[type]!]));
  });

  it("the instance image is documented to rebuild the server", () => {
    expect(documented("openstack:compute/instance:Instance", /rebuilds the existing server/i)).toEqual(
      expect.arrayContaining([...REBUILD_ON["openstack:compute/instance:Instance"]!]),
    );
  });
});

describe("a base older than compliance.json", () => {
  it("reads each policy's result from compliance.md", () => {
    const md = [
      "# Compliance evidence: production",
      "",
      "**Verdict: FAIL.** x",
      "",
      "## 6.1 Environment separation",
      "| `rule-sources-within-plan` | mandatory | FAIL | 2 findings |",
      "## 6.5 Testing",
      "| `test-clusters-labelled-and-synthetic` | advisory | n/a | 0 resources checked |",
    ].join("\n");
    expect(complianceFromMarkdown(md)).toEqual({
      verdict: "Verdict: FAIL",
      failedControls: [],
      results: [
        { name: "rule-sources-within-plan", control: "6.1", enforcement: "mandatory", status: "fail", violations: [] },
        {
          name: "test-clusters-labelled-and-synthetic",
          control: "6.5",
          enforcement: "advisory",
          status: "not-applicable",
          violations: [],
        },
      ],
    });
  });
});

describe("on the real program", () => {
  const snap = async (file?: string) =>
    snapshotOf(await synthOk("production", file), fs.readFileSync(file ?? stackFilePath("production"), "utf8"));

  it("finds no change between two synths of the committed production stack: synth and the digests are deterministic", async () => {
    const diff = diffSnapshots(await snap(), await snap(variantFile("production", () => {})), CONTEXT);
    expect(diff.outcome).toBe("no-change");
    expect(diff.notes).toEqual([]);
  });

  it("shows a new Talos version as one Talos upgrade and one config apply per node, replacing or rebuilding no node", async () => {
    const base = await snap();
    const head = await snap(
      variantFile("production", (c) => {
        c["ske-platform:clusters"].talosVersion = "1.11.6";
      }),
    );
    const diff = diffSnapshots(base, head, CONTEXT);
    const nodes = base.resources.filter(
      (r) => r.type === INSTANCE && (r.inputs.metadata as Record<string, unknown>)["node-role"],
    );
    expect(nodes.length).toBeGreaterThan(0);
    // Instances ignore userData and imageId after create (components/cluster): the roll-out steps carry the change.
    expect(diff.irreversible).toEqual([]);
    expect(diff.resources.changed.filter((c) => c.type === INSTANCE)).toEqual([]);
    for (const kind of ["talos-upgrade", "apply-config"]) {
      const steps = diff.resources.changed.filter((c) => c.name.endsWith(`-${kind}`));
      expect(steps.map((c) => c.name).sort()).toEqual(nodes.map((n) => `${n.name}-${kind}`).sort());
      expect(steps.every((c) => c.operation === "update")).toBe(true);
    }
    expect(diff.outcome).toBe("changes");
    // The machine configs hold CA keys and join tokens; none of it may show.
    expect(everything(diff)).not.toMatch(/FAKE-SYNTH|BEGIN .*PRIVATE KEY|machine:/);
  });
});
