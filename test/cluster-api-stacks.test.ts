import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { readProjectPlan } from "../config/projects";
import { CLUSTER_SECRET_TYPE_LABEL } from "../components/argocd";
import { CAPI_CREDENTIAL_ROLES, CAPI_IDENTITY, CAPI_NAMESPACES, CLUSTER_API_VERSIONS } from "../plan/cluster-api";
import { foreignProjects } from "../plan/project-plan";
import { clusterApiCredentialOwnProject } from "../policy/cluster-api";
import { policyContext } from "../policy/context";
import type { PolicyContext, PolicyResource } from "../policy/model";
import { synthesize } from "../synth";
import { isSecretEnvelope, type RecordedResource } from "../synth/mock-runtime";
import { policyResources } from "../synth/policy-input";
import { STACKS, ofType, stackFilePath, synthOk, variantFile } from "./support/stacks";
import { editedResource, revealedProgramRun } from "./support/program-run";
import { within } from "./support/timed";

const projects = readProjectPlan();
const APPSET = "kubernetes:argoproj.io/v1alpha1:ApplicationSet";
const SECRET = "kubernetes:core/v1:Secret";
const CREDENTIAL = "openstack:identity/applicationCredential:ApplicationCredential";

type Meta = { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
const meta = (r: RecordedResource) => (r.inputs as { metadata: Meta }).metadata;
const clusterSecrets = (resources: RecordedResource[]) =>
  ofType(resources, SECRET).filter((r) => meta(r).labels?.[CLUSTER_SECRET_TYPE_LABEL] === "cluster");
const identitySecrets = (resources: RecordedResource[]) =>
  ofType(resources, SECRET).filter((r) => r.name.endsWith("-capi-identity-secret"));

/** Argo CD's cluster generator: matchLabels against the Secret's labels. */
const selects = (selector: { matchLabels: Record<string, string> }, labels: Record<string, string> = {}) =>
  Object.entries(selector.matchLabels).every(([k, v]) => labels[k] === v);

/** Inputs with Pulumi's secret envelopes opened, as Argo CD reads the applied Secret. */
function unwrap(value: unknown): unknown {
  if (isSecretEnvelope(value)) return unwrap(value.value);
  if (Array.isArray(value)) return value.map(unwrap);
  if (value && typeof value === "object")
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unwrap(v)]));
  return value;
}

/**
 * The parameters Argo CD's cluster generator offers a template (non-Go
 * template): name, server, and metadata.labels.<key> /
 * metadata.annotations.<key> of the cluster Secret.
 */
function generatorParams(secret: RecordedResource, raw?: Map<string, Record<string, unknown>>): Record<string, string> {
  const m = meta(secret);
  const inputs = raw ? unwrap(raw.get(`${secret.type}::${secret.name}`)) : secret.inputs;
  const data = (inputs as { stringData: { name: string; server: string } }).stringData;
  const params: Record<string, string> = { name: data.name, server: data.server };
  for (const [k, v] of Object.entries(m.labels ?? {})) params[`metadata.labels.${k}`] = v;
  for (const [k, v] of Object.entries(m.annotations ?? {})) params[`metadata.annotations.${k}`] = v;
  return params;
}

/** Every `{{param}}` in the template, resolved; a missing parameter throws, as Argo CD leaves it unrendered. */
function render(template: unknown, params: Record<string, string>): unknown {
  return JSON.parse(
    JSON.stringify(template).replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (_, key: string) => {
      if (!(key in params))
        throw new Error(
          `template parameter {{${key}}} is not offered by the cluster Secret (offered: ${Object.keys(params).join(", ")})`,
        );
      return params[key]!;
    }),
  );
}

describe("the ApplicationSets and the cluster Secrets the program writes", () => {
  for (const stack of STACKS) {
    it(`${stack}: every management cluster, and no other cluster, is selected by each ApplicationSet, and its template renders from the Secret alone`, async () => {
      const { resources } = await synthOk(stack);
      const { raw } = await revealedRun(stack);
      const sets = ofType(resources, APPSET).filter((r) => r.name.startsWith(`${stack}-cluster-api-`));
      expect(sets.map((s) => (s.inputs as any).metadata.name).sort()).toEqual([
        `${stack}-cert-manager`,
        `${stack}-cluster-api`,
      ]);
      const secrets = clusterSecrets(resources);
      const management = secrets.filter((s) => meta(s).labels?.role === "management");
      expect(management.length).toBeGreaterThan(0);
      for (const set of sets) {
        const spec = (set.inputs as any).spec;
        const selector = spec.generators[0].clusters.selector;
        const selected = secrets.filter((s) => selects(selector, meta(s).labels));
        expect(selected.map((s) => s.name).sort()).toEqual(management.map((s) => s.name).sort());
        for (const secret of selected) {
          const params = generatorParams(secret, raw);
          const app = render(spec.template, params) as any;
          const { name, server } = params as { name: string; server: string };
          expect(server).toMatch(/^https:\/\/[0-9.]+:6443$/);
          expect(app.metadata.name).toBe(`${name}-${set.name.slice(`${stack}-cluster-api-`.length)}`);
          expect(app.spec.destination.server).toBe(server);
          expect(app.metadata.labels["ske-platform/site"]).toBe(meta(secret).labels!.site);
          expect(app.spec.project).toBe(`${stack}-cluster-api`);
        }
      }
    });
  }

  it("a selector or template key the Secrets do not carry is caught", async () => {
    const { resources } = await synthOk("staging");
    const secret = clusterSecrets(resources).find((s) => meta(s).labels?.role === "management")!;
    expect(() => render({ server: "{{metadata.labels.region}}" }, generatorParams(secret))).toThrow(
      /metadata\.labels\.region/,
    );
    expect(selects({ matchLabels: { role: "mgmt" } }, meta(secret).labels)).toBe(false);
  });

  it("adding a site changes no ApplicationSet: the stack without sto2 declares the same ones", async () => {
    const full = await synthOk("staging");
    const oneSite = await synthOk(
      "staging",
      variantFile("staging", (c) => {
        delete c["ske-platform:sites"].sto2;
        c["ske-platform:backups"].sites = { osl2: c["ske-platform:backups"].sites.osl2 };
        // The site's cluster goes, and with it its archive and backup writer projects.
        delete c["ske-platform:audit"].archive.writerProjects["staging-sto2-mgmt"];
        delete c["ske-platform:backups"].writerProjects["staging-sto2-mgmt"];
      }),
    );
    const sets = (r: RecordedResource[]) => ofType(r, APPSET).map((s) => s.inputs);
    expect(sets(oneSite.resources)).toEqual(sets(full.resources));
    expect(clusterSecrets(oneSite.resources).length).toBe(clusterSecrets(full.resources).length - 1);
  });

  it("the pinned versions are what the ApplicationSets install", async () => {
    const { resources } = await synthOk("production");
    const set = (name: string) =>
      ofType(resources, APPSET).find((s) => (s.inputs as any).metadata.name === name)!.inputs as any;
    const certManager = set("production-cert-manager").spec.template.spec.source;
    expect(certManager).toMatchObject({
      chart: "cert-manager",
      targetRevision: CLUSTER_API_VERSIONS.certManager.version,
    });
    const operator = set("production-cluster-api").spec.template.spec.source;
    expect(operator.targetRevision).toBe(CLUSTER_API_VERSIONS.operator.version);
    const values = operator.helm.valuesObject;
    expect(values.core["cluster-api"].version).toBe(CLUSTER_API_VERSIONS.core.version);
    expect(values.infrastructure.openstack.version).toBe(CLUSTER_API_VERSIONS.infrastructure.version);
    expect(values.bootstrap.talos.version).toBe(CLUSTER_API_VERSIONS.bootstrap.version);
    expect(values.controlPlane.talos.version).toBe(CLUSTER_API_VERSIONS.controlPlane.version);
  });
});

describe("the Cluster API identity of each management cluster", () => {
  for (const stack of STACKS) {
    it(`${stack}: one restricted credential with the least roles per management cluster, its Secret naming the environment's own project of the site`, async () => {
      const { resources } = await synthOk(stack);
      const credentials = ofType(resources, CREDENTIAL);
      const secrets = identitySecrets(resources);
      const mgmt = clusterSecrets(resources).filter((s) => meta(s).labels?.role === "management");
      expect(credentials.length).toBe(mgmt.length);
      expect(secrets.length).toBe(mgmt.length);
      for (const c of credentials) {
        expect(c.inputs).toMatchObject({ roles: [...CAPI_CREDENTIAL_ROLES], unrestricted: false });
        expect((c.inputs as any).accessRules.length).toBeGreaterThan(0);
      }
      const foreignIds = new Set(foreignProjects(projects, stack).map((p) => p.project.id));
      for (const s of secrets) {
        const m = meta(s);
        expect(m.name).toBe(CAPI_IDENTITY.secretName);
        expect((s.inputs as any).metadata.namespace).toBe(CAPI_NAMESPACES.workloads);
        const projectId = m.annotations!["ske-platform/openstack-project-id"]!;
        expect(projectId).toBe(projects.environments[stack][m.labels!.site!]!.id);
        expect(foreignIds.has(projectId)).toBe(false);
        // Masked in what synth records.
        expect(s.secretPaths).toContain("stringData");
        expect((s.inputs as any).stringData).toBe("[secret]");
      }
    });
  }

  it("compliance.md shows each management cluster's project, credential, roles and masked Secret", async () => {
    const result = await synthOk("production");
    for (const site of ["osl2", "sto2"]) {
      const id = projects.environments.production[site]!.id;
      expect(result.compliance.report).toContain(
        `| production-${site}-mgmt | \`${id}\` (production/${site}'s own) | \`production-${site}-mgmt-capi-g1\` | member; restricted; access rules: compute, network, image | workload-clusters/openstack-identity (masked) |`,
      );
    }
    expect(result.compliance.report).not.toContain("FAKE-SYNTH-APP-CREDENTIAL-SECRET");
  });

  it("staging's credentials are scoped to staging's projects, none to production's", async () => {
    const { resources } = await synthOk("staging");
    const ids = identitySecrets(resources).map((s) => meta(s).annotations!["ske-platform/openstack-project-id"]);
    expect(ids.sort()).toEqual(
      Object.values(projects.environments.staging)
        .map((p) => p.id)
        .sort(),
    );
    for (const p of Object.values(projects.environments.production)) expect(ids).not.toContain(p.id);
  });

  it("refuses a staging site whose Cluster API project is production's, registering nothing", async () => {
    const result = await within(
      synthesize({
        stack: "staging",
        configFile: variantFile("staging", (c) => {
          c["ske-platform:sites"].osl2.clusterApi.projectId = projects.environments.production.osl2!.id;
        }),
      }),
      20_000,
      "synth",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toContain("ske-platform:sites.osl2.clusterApi.projectId");
    expect(result.error).toContain(`is production/osl2's project "ske-production"`);
    expect(result.error).toContain("may act only in staging's own project");
    expect((result.registered ?? []).filter((r) => r.type !== "pulumi:pulumi:Stack")).toEqual([]);
  });

  it("refuses a project the site's credentials are not scoped to (another site's own project)", async () => {
    const result = await within(
      synthesize({
        stack: "staging",
        configFile: variantFile("staging", (c) => {
          c["ske-platform:sites"].osl2.clusterApi.projectId = projects.environments.staging.sto2!.id;
        }),
      }),
      20_000,
      "synth",
    );
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error).toMatch(
      /sites\.osl2\.clusterApi\.projectId: \S+ is not staging\/osl2's project; openstack-projects\.yaml declares 9f3c1a7e2b5d4c6e8a0b1c2d3e4f6001/,
    );
  });

  it("rotation is one config change: a new generation replaces the credential and rewrites the Secret, nothing else", async () => {
    const before = await synthOk("staging");
    const after = await synthOk(
      "staging",
      variantFile("staging", (c) => {
        c["ske-platform:sites"].osl2.clusterApi.credentialGeneration = 2;
      }),
    );
    const byKey = (r: RecordedResource[]) => new Map(r.map((x) => [`${x.type}::${x.name}`, JSON.stringify(x.inputs)]));
    const a = byKey(before.resources);
    const b = byKey(after.resources);
    const changed = [...b.keys()].filter((k) => a.get(k) !== b.get(k));
    expect(changed.sort()).toEqual(
      [
        `${CREDENTIAL}::staging-osl2-mgmt-capi-identity-credential`,
        `${SECRET}::staging-osl2-mgmt-capi-identity-secret`,
      ].sort(),
    );
    const credential = ofType(after.resources, CREDENTIAL).find(
      (r) => r.name === "staging-osl2-mgmt-capi-identity-credential",
    )!;
    expect((credential.inputs as any).name).toBe("staging-osl2-mgmt-capi-g2");
  });
});

/** A real run of the program with the inputs as the engine receives them, secrets still wrapped. */
async function revealedRun(
  stack: string,
): Promise<{ resources: PolicyResource[]; ctx: PolicyContext; raw: Map<string, Record<string, unknown>> }> {
  const { run, revealed: raw, config, addressPlan } = await revealedProgramRun(stackFilePath(stack), stack);
  return { resources: policyResources(run.resources, raw, stack), ctx: policyContext(config, addressPlan), raw };
}

describe("the identity Secret's content", () => {
  it("is a Pulumi secret holding CAPO's clouds.yaml with the credential Keystone returned, for the site's region", async () => {
    const { raw } = await revealedRun("staging");
    const inputs = raw.get(`${SECRET}::staging-sto2-mgmt-capi-identity-secret`)!;
    const stringData = inputs.stringData as Record<string, unknown>;
    expect(
      isSecretEnvelope(stringData) || isSecretEnvelope(stringData["clouds.yaml"]),
      "clouds.yaml travels as a Pulumi secret",
    ).toBe(true);
    const value = (unwrap(stringData) as Record<string, unknown>)["clouds.yaml"];
    expect(value).toBeTypeOf("string");
    const clouds = parseYaml(value as string);
    const entry = clouds.clouds[CAPI_IDENTITY.cloudName];
    expect(entry).toMatchObject({
      auth_type: "v3applicationcredential",
      region_name: "sto2",
      auth: {
        auth_url: "https://keystone.sto2.ske.example.net:5000/v3",
        application_credential_id: "staging-sto2-mgmt-capi-identity-credential_id",
        application_credential_secret: "FAKE-SYNTH-APP-CREDENTIAL-SECRET-staging-sto2-mgmt-capi-identity-credential",
      },
    });
  });
});

describe("policy cluster-api-credential-own-project", () => {
  it("fails synth of a staging stack with a site left without clusterApi (exit 2 path), naming the control", async () => {
    const result = await within(
      synthesize({
        stack: "staging",
        configFile: variantFile("staging", (c) => {
          delete c["ske-platform:sites"].sto2.clusterApi;
        }),
      }),
      30_000,
      "synth",
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const verdict = result.compliance.results.find((r) => r.name === "cluster-api-credential-own-project")!;
    expect(verdict.status).toBe("fail");
    expect(result.compliance.report).toContain("every staging site needs sites.<site>.clusterApi");
  });

  const judge = (resources: PolicyResource[], ctx: PolicyContext) =>
    clusterApiCredentialOwnProject.validate({ resources, outputs: [] }, ctx).map((v) => v.message);

  it("passes the committed stacks and fails a credential in production's project, an admin role, an unrestricted or rule-less credential", async () => {
    const { resources, ctx } = await revealedRun("staging");
    expect(judge(resources, ctx)).toEqual([]);

    const inProduction = editedResource(resources, "staging-osl2-mgmt-capi-identity-secret", (r) => {
      (r.props.metadata as any).annotations["ske-platform/openstack-project-id"] =
        projects.environments.production.osl2!.id;
    });
    expect(judge(inProduction, ctx)).toEqual([
      expect.stringContaining("a staging Cluster API credential acts in production's project ske-production"),
    ]);

    const admin = editedResource(resources, "staging-osl2-mgmt-capi-identity-credential", (r) => {
      r.props.roles = ["member", "admin"];
    });
    expect(judge(admin, ctx)).toEqual([expect.stringContaining("holds roles beyond member: admin")]);

    const inherits = editedResource(resources, "staging-osl2-mgmt-capi-identity-credential", (r) => {
      delete r.props.roles;
    });
    expect(judge(inherits, ctx)).toEqual([expect.stringContaining("names no roles")]);

    const unrestricted = editedResource(resources, "staging-osl2-mgmt-capi-identity-credential", (r) => {
      r.props.unrestricted = true;
      r.props.accessRules = [];
    });
    expect(judge(unrestricted, ctx)).toEqual([
      expect.stringContaining("not explicitly restricted"),
      expect.stringContaining("no access rules"),
    ]);

    const noIdentity = resources.filter((r) => !r.name.startsWith("staging-sto2-mgmt-capi-identity"));
    expect(judge(noIdentity, ctx)).toEqual([
      expect.stringContaining(
        "2 management clusters but 1 Cluster API identities: every staging site needs sites.<site>.clusterApi",
      ),
    ]);

    const noSecret = resources.filter((r) => r.name !== "staging-sto2-mgmt-capi-identity-secret");
    expect(judge(noSecret, ctx)).toEqual([
      expect.stringContaining("2 Cluster API identities but 2 credentials and 1 identity Secrets"),
    ]);
  });
});
