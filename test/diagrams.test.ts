import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { readAddressPlan } from "../config/load";
import { ENVIRONMENTS, type EnvironmentName } from "../plan/address-plan";
import { policyContext } from "../policy/context";
import { evaluatePolicies, mandatoryFailures } from "../policy/evaluate";
import type { PolicyResource } from "../policy/model";
import {
  CROSS_ENVIRONMENT_POLICIES,
  DIAGRAM_LIMITS,
  complianceDiagrams,
  crossEnvironmentRules,
  flowChangeDiagram,
  flowChanges,
  flowEdges,
  siteFlowDiagram,
  struck,
  type Diagram,
  type DiagramResource,
} from "../synth/diagrams";
import { renderMarkdown } from "../synth/diff-render";
import { diffSnapshots } from "../synth/diff";
import { snapshotOf } from "../synth/diff-input";
import { loadPlatformConfig } from "../config/load";
import { readStackFile } from "../config/stack-file";
import { parseMermaid } from "./support/mermaid";
import { STACKS, stackFilePath, synthOk } from "./support/stacks";
import * as fs from "node:fs";

const RULE = "openstack:networking/secGroupRule:SecGroupRule";
const RED = "stroke:#d32f2f";

/** Nodes, boxes and edges of a generated flowchart, by label. */
function drawn(mermaid: string) {
  const labels = new Map<string, string>();
  for (const m of mermaid.matchAll(/^\s+(?:subgraph )?(\w+)\["([^"]*)"\]$/gm)) labels.set(m[1]!, m[2]!);
  const edges = [...mermaid.matchAll(/^\s+(\w+) -\.?->(?:\|"([^"]*)"\|)? (\w+)$/gm)].map((m, index) => ({
    from: labels.get(m[1]!)!,
    to: labels.get(m[3]!)!,
    label: m[2] ?? "",
    red: new RegExp(`^\\s+linkStyle ${index} ${RED}`, "m").test(mermaid),
  }));
  return { labels, edges };
}

async function committed(stack: string) {
  const result = await synthOk(stack);
  const { config, addressPlan } = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan());
  const ctx = { ...policyContext(config, addressPlan), sites: result.sites };
  return { result, ctx };
}

describe("compliance diagrams", () => {
  it.each(STACKS)("%s: the flow edges are exactly the registered rules, each on one edge", async (stack) => {
    const { result, ctx } = await committed(stack);
    const edges = flowEdges(result.resources, ctx, crossEnvironmentRules(result.compliance.results));
    const onEdges = edges.flatMap((e) => e.rules).sort();
    const registered = result.resources
      .filter((r) => r.type === RULE)
      .map((r) => r.name)
      .sort();
    expect(registered.length).toBeGreaterThan(0);
    expect(onEdges).toEqual(registered);
  });

  it.each(STACKS)("%s: every grouped flow is drawn in its site's picture, and nothing else is", async (stack) => {
    const { result, ctx } = await committed(stack);
    const edges = flowEdges(result.resources, ctx, new Set());
    for (const site of [...new Set(edges.map((e) => e.site))]) {
      const picture = drawn(siteFlowDiagram(site, edges).mermaid);
      const cluster = (end: string) => `${/^(.*)-(controlplane|worker|loadbalancer)$/.exec(end)?.[1]} cluster`;
      for (const e of edges.filter((x) => x.site === site)) {
        const internal =
          cluster(e.from) === cluster(e.to) &&
          ![e.from, e.to].some((end) => end.endsWith("-loadbalancer")) &&
          !cluster(e.from).startsWith("undefined");
        const match = picture.edges.some((d) =>
          internal
            ? d.label.startsWith("within cluster") && cluster(d.from) === cluster(e.from)
            : d.from === e.from && (d.to === e.to || d.to === cluster(e.to)),
        );
        expect(match, `${site}: ${e.from} -> ${e.to} ${e.ports.join(" ")}`).toBe(true);
      }
      for (const d of picture.edges) {
        const backed = edges.some(
          (e) =>
            e.site === site &&
            (d.label.startsWith("within cluster")
              ? cluster(e.from) === cluster(d.from) && cluster(e.to) === cluster(d.from)
              : e.from === d.from && (e.to === d.to || cluster(e.to) === d.to)),
        );
        expect(backed, `${site}: drawn ${d.from} -> ${d.to}`).toBe(true);
      }
    }
  });

  it.each(STACKS)("%s: each diagram stays readable and parses with mermaid's parser", async (stack) => {
    const { result, ctx } = await committed(stack);
    const diagrams = complianceDiagrams(result.resources, ctx, result.compliance.results);
    expect(diagrams.length).toBeGreaterThanOrEqual(3);
    for (const d of diagrams) {
      expect(d.edges, d.title).toBeLessThanOrEqual(DIAGRAM_LIMITS.edges);
      expect(d.nodes, d.title).toBeLessThanOrEqual(DIAGRAM_LIMITS.nodes);
      expect(d.longestLabel, d.title).toBeLessThanOrEqual(DIAGRAM_LIMITS.labelChars);
      await parseMermaid(d.mermaid);
      expect(result.compliance.report).toContain(`\`\`\`mermaid\n${d.mermaid}\n\`\`\``);
    }
    expect(diagrams.some((d) => d.mermaid.includes(RED))).toBe(false);
  });

  it("the parser used here refuses a broken diagram, so the check above can fail", async () => {
    await expect(parseMermaid('flowchart LR\n  n0["a"] -->|"x"| \n  }}')).rejects.toThrow();
    await expect(parseMermaid('flowchart LR\n  n0["a"] --> n1\n  linkStyle 3 stroke:red')).rejects.toThrow();
  });

  it("production's pictures show the flows the issue names, with their ports", async () => {
    const { result, ctx } = await committed("production");
    const [separation, osl2, sto2, changePath] = complianceDiagrams(
      result.resources,
      ctx,
      result.compliance.results,
    ) as [Diagram, Diagram, Diagram, Diagram];
    expect(separation.mermaid).toContain("production 10.32.0.0/16 (this stack)");
    expect(separation.mermaid).toContain("staging 10.33.0.0/16");
    expect(separation.mermaid).toContain("project ske-test");
    const osl2Edges = drawn(osl2.mermaid).edges.map((e) => `${e.from} -> ${e.to}: ${e.label}`);
    expect(osl2Edges).toContain("admin ranges -> jumphost: ssh tcp/22");
    expect(osl2Edges).toContain("jumphost -> mgmt cluster: talos-apid tcp/50000");
    expect(osl2Edges).toContain("mgmt-loadbalancer -> mgmt-controlplane: kube-apiserver tcp/6443");
    expect(osl2Edges).toContain("ops-worker -> mgmt-loadbalancer: kube-apiserver tcp/6443");
    expect(osl2Edges).toContain("deploy-runner -> ops-loadbalancer: kube-apiserver tcp/6443");
    // The audit and platform ingest ports together run past the label's length, so the second is counted.
    expect(osl2Edges).toContain("sto2 subnet 10.32.16.0/20 -> ops-loadbalancer: audit-ingest tcp/31100 +1 more");
    expect(osl2Edges).toContain("egress -> outside other environments: any");
    expect(drawn(sto2.mermaid).edges.map((e) => `${e.from} -> ${e.to}: ${e.label}`)).toContain(
      "osl2 subnet 10.32.0.0/20 -> mgmt-loadbalancer: kube-apiserver tcp/6443",
    );
    const path = drawn(changePath.mermaid).edges.map((e) => `${e.from} -> ${e.to}`);
    expect(path).toContain("feature branch -> pull request to main");
    expect(path).toContain(
      "environment production: team approval, no self-review -> deploy runners ske-deploy-production: 2",
    );
    expect(drawn(changePath.mermaid).edges.map((e) => `${e.from} -> ${e.to}: ${e.label}`)).toContain(
      "deploy runners ske-deploy-production: 2 -> cluster sto2-mgmt: tcp/50000 tcp/6443",
    );
    expect(path).toContain(
      "1 approval · code owners required · last-push approval on -> main: force push blocked, bypass none",
    );
    expect(changePath.mermaid).toContain("1 approval · code owners required · last-push approval on");
  });
});

describe("a flow into another environment", () => {
  /** Production with one extra rule admitting `cidr`, judged by the real policies. */
  async function withForeignRule(cidr: string, direction: "ingress" | "egress") {
    const { result, ctx } = await committed("production");
    const rule: DiagramResource & { custom: true } = {
      type: RULE,
      name: "production-osl2-jumphost-injected",
      inputs: {
        direction,
        ethertype: "IPv4",
        protocol: "tcp",
        portRangeMin: 22,
        portRangeMax: 22,
        remoteIpPrefix: cidr,
        securityGroupId: "production-osl2-jumphost_id",
      },
      custom: true,
    };
    const resources = [...result.resources, rule] as typeof result.resources;
    const policyResources: PolicyResource[] = resources.map((r) => ({
      type: r.type,
      name: r.name,
      urn: `urn:${r.name}`,
      props: r.inputs,
      opts: { protect: r.options?.protect, retainOnDelete: r.options?.retainOnDelete },
    }));
    const results = evaluatePolicies({ resources: policyResources, outputs: [] }, ctx);
    return { resources, results, ctx, diagrams: complianceDiagrams(resources, ctx, results) };
  }

  it("is drawn red in the site and separation pictures, and the same run fails compliance", async () => {
    const { results, diagrams } = await withForeignRule("10.33.4.0/24", "ingress");
    expect(mandatoryFailures(results).map((r) => r.name)).toEqual(
      expect.arrayContaining(["production-admits-no-staging-or-test", "no-rule-admits-another-environment"]),
    );
    const [separation, osl2] = diagrams as [Diagram, Diagram];
    expect(
      drawn(osl2.mermaid)
        .edges.filter((e) => e.red)
        .map((e) => `${e.from} -> ${e.to}`),
    ).toEqual(["staging 10.33.4.0/24 -> jumphost"]);
    expect(drawn(separation.mermaid).edges.filter((e) => e.red)).toHaveLength(1);
    expect(separation.title).toContain("compliance fails");
    for (const d of diagrams) await parseMermaid(d.mermaid);
  });

  it("is red only on the policy's word: without its violations nothing is red", async () => {
    const { resources, results, ctx } = await withForeignRule("10.34.0.0/16", "egress");
    const cleared = results.map((r) =>
      (CROSS_ENVIRONMENT_POLICIES as readonly string[]).includes(r.name) ? { ...r, violations: [] } : r,
    );
    expect(complianceDiagrams(resources, ctx, cleared).some((d) => d.mermaid.includes(RED))).toBe(false);
  });

  it("whatever foreign range a rule names, a red edge and a failing verdict come together", async () => {
    const plan = readAddressPlan();
    const foreign = ENVIRONMENTS.filter((e) => e !== "production").map(
      (e: EnvironmentName) => plan.environments[e].supernet,
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...foreign),
        fc.integer({ min: 16, max: 32 }),
        fc.integer({ min: 0, max: 65535 }),
        fc.constantFrom("ingress" as const, "egress" as const),
        async (supernet, bits, offset, direction) => {
          const [a, b] = supernet.split(".").map(Number) as [number, number];
          const host = ((a << 24) | (b << 16) | offset) >>> 0;
          const network = bits === 0 ? 0 : (host & (0xffffffff << (32 - bits))) >>> 0;
          const address = [24, 16, 8, 0].map((shift) => (network >>> shift) & 255).join(".");
          const { results, diagrams } = await withForeignRule(`${address}/${bits}`, direction);
          const red = diagrams.some((d) => d.mermaid.includes(RED));
          const failed = mandatoryFailures(results).some((r) =>
            (CROSS_ENVIRONMENT_POLICIES as readonly string[]).includes(r.name),
          );
          expect(red).toBe(true);
          expect(failed).toBe(true);
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe("changed flows in the review diff", () => {
  it("shows an added flow green, a removed one grey and dashed, and parses", async () => {
    const result = await synthOk("production");
    const stackText = fs.readFileSync(stackFilePath("production"), "utf8");
    const base = snapshotOf(result, stackText);
    const dropped = base.resources.filter(
      (r) =>
        !(
          r.type === RULE &&
          String(r.inputs.description).startsWith("audit-ingest: audit-log collectors of another site")
        ),
    );
    const added = {
      ...dropped.find((r) => r.type === RULE && r.inputs.description === "ssh: operators' admin range")!,
      name: "production-osl2-jumphost-in-new",
      inputs: {
        direction: "ingress",
        protocol: "tcp",
        portRangeMin: 443,
        portRangeMax: 443,
        remoteIpPrefix: "198.51.100.0/27",
        securityGroupId: "production-osl2-jumphost_id",
      },
    };
    const head = { ...base, resources: [...dropped, added] };
    const plan = readAddressPlan();
    const diff = diffSnapshots(base, head, {
      ownSupernet: "10.32.0.0/16",
      foreignSupernets: { staging: "10.33.0.0/16", test: "10.34.0.0/16" },
      addressPlan: plan,
    });
    expect(diff.flows?.map((f) => `${f.change} ${f.site} ${f.from} -> ${f.to} ${f.ports}`).sort()).toEqual([
      "added osl2 198.51.100.0/27 -> jumphost tcp/443",
      "removed osl2 sto2 subnet 10.32.16.0/20 -> ops-loadbalancer audit-ingest tcp/31100",
    ]);
    const picture = flowChangeDiagram(diff.flows!)!;
    expect(picture.mermaid).toMatch(/-->\|"\+ tcp\/443"\|/);
    expect(picture.mermaid).toContain(`-.->|"removed: ${struck("audit-ingest tcp/31100")}"|`);
    expect(struck("ab")).toBe("a\u0336b\u0336");
    expect(picture.mermaid).toContain("stroke:#2e7d32");
    expect(picture.mermaid).toContain("stroke-dasharray");
    await parseMermaid(picture.mermaid);
    expect(renderMarkdown([diff])).toContain(picture.mermaid);
  });

  it("keeps the comment under the limit with many changed flows", async () => {
    const result = await synthOk("production");
    const base = snapshotOf(result, fs.readFileSync(stackFilePath("production"), "utf8"));
    const head = { ...base, resources: base.resources.filter((r) => r.type !== RULE) };
    const diff = diffSnapshots(base, head, {
      ownSupernet: "10.32.0.0/16",
      foreignSupernets: { staging: "10.33.0.0/16", test: "10.34.0.0/16" },
    });
    expect(diff.flows!.length).toBeGreaterThan(DIAGRAM_LIMITS.edges);
    const limit = 20_000;
    const comment = renderMarkdown([diff], { limit });
    expect(comment.length).toBeLessThanOrEqual(limit);
    const picture = flowChangeDiagram(diff.flows!)!;
    expect(picture.edges).toBe(DIAGRAM_LIMITS.edges);
    expect(picture.title).toContain("more in the table");
    await parseMermaid(picture.mermaid);
  });

  it("a port added to an existing flow shows as that port added, nothing removed", () => {
    const edge = {
      site: "osl2",
      from: "admin ranges",
      to: "jumphost",
      ports: ["ssh tcp/22"],
      rules: ["r"],
      crossEnvironment: false,
    };
    expect(flowChanges([edge], [{ ...edge, ports: ["ssh tcp/22", "tcp/443"] }])).toEqual([
      {
        site: "osl2",
        from: "admin ranges",
        to: "jumphost",
        ports: "tcp/443",
        change: "added",
        crossEnvironment: false,
      },
    ]);
    expect(flowChanges([edge], [edge])).toEqual([]);
  });
});
