import { describe, expect, it } from "vitest";
import type { AddressInfo } from "node:net";
import type { ArchiveBucketSpec } from "../plan/object-lock";
import { archiveClient, ensureArchiveBucket } from "../scripts/object-lock-bucket";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { readProjectPlan } from "../config/projects";
import {
  archiveBucketPolicy,
  environmentBucketPolicy,
  projectPrincipal,
  undeniedProjects,
} from "../plan/bucket-policy";
import { foreignProjects, type ProjectPlan } from "../plan/project-plan";
import { policyContext } from "../policy/context";
import { evaluatePolicies } from "../policy/evaluate";
import type { PolicyContext, PolicyResource } from "../policy/model";
import { OPAQUE } from "../policy/model";
import { packResource, recordInputs } from "../policy/pack-adapter";
import { objectStorageInEnvironment, projectsSeparated } from "../policy/project-separation";
import { renderComplianceReport } from "../synth/compliance";
import { readStackFile } from "../config/stack-file";
import { STACKS, ofType, stackFilePath, synthOk } from "./support/stacks";
import { fakeRgw } from "./support/fake-rgw";

const contextOf = (stack: string, projects?: ProjectPlan): PolicyContext => {
  const { config, addressPlan } = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan());
  return policyContext(config, addressPlan, projects);
};
const production = contextOf("production");
const plan = readProjectPlan();
const prodOsl2 = plan.environments.production.osl2!;
const stagingOsl2 = plan.environments.staging.osl2!;
const foreignOfProduction = foreignProjects(plan, "production").map((p) => p.project.id);

const judge = (policy: typeof projectsSeparated, resources: PolicyResource[], ctx = production) =>
  policy.validate({ resources, outputs: [] }, ctx).map((v) => v.message);

const archive = (policy: unknown, extra: Record<string, unknown> = {}): PolicyResource => ({
  type: "command:local:Command",
  name: "production-audit-archive-object-lock-bucket",
  props: {
    environment: {
      ARCHIVE_BUCKET: "ske-production-audit",
      ...(policy === undefined ? {} : { ARCHIVE_BUCKET_POLICY: JSON.stringify(policy) }),
      ...extra,
    },
  },
});
const denyOthers = () => environmentBucketPolicy("ske-production-audit", foreignOfProduction);

describe("the bucket policy that keeps a bucket in its environment", () => {
  it("denies every other environment's project everything and grants nothing", () => {
    const doc = denyOthers();
    expect(doc.Statement).toHaveLength(1);
    expect(doc.Statement[0]).toMatchObject({
      Effect: "Deny",
      Action: "s3:*",
      Resource: ["arn:aws:s3:::ske-production-audit", "arn:aws:s3:::ske-production-audit/*"],
    });
    expect((doc.Statement[0]!.Principal as { AWS: string[] }).AWS).toEqual(
      [...foreignOfProduction].sort().map(projectPrincipal),
    );
    expect(doc.Statement.filter((s) => s.Effect === "Allow")).toEqual([]);
    expect(foreignOfProduction).not.toContain(prodOsl2.id);
  });

  it.each(STACKS)(
    "the %s archive carries it, and its S3 identity lives in the archive site's own project",
    async (stack) => {
      const result = await synthOk(stack);
      const [command] = ofType(result.resources, "command:local:Command").filter((c) =>
        c.name.endsWith("-audit-archive-object-lock-bucket"),
      );
      const ctx = contextOf(stack);
      const env = ctx.environment;
      const site = (
        JSON.parse(readStackFile(stackFilePath(stack), stack).values["ske-platform:audit"]!) as {
          archive: { site: string; bucket: string };
        }
      ).archive;
      // The environment map is a secret as a whole in state; synth redacts it, the policy reads it revealed.
      const policyRun = result.compliance.results.find((r) => r.name === "object-storage-in-environment")!;
      expect(command).toBeDefined();
      expect(policyRun.status).toBe("pass");
      expect(result.compliance.report).toContain(
        `| ${site.bucket} | denies everything to ${foreignProjects(plan, env)
          .map((p) => `${p.environment}/${p.site}`)
          .join(", ")} | nothing outside the environment |`,
      );
      const [ec2] = ofType(result.resources, "openstack:identity/ec2CredentialV3:Ec2CredentialV3");
      expect(ec2!.inputs.projectId).toBe(plan.environments[env][site.site]!.id);
      // RGW sees every Keystone project as a user of its own: the other environments' archive writers are denied too.
      const document = JSON.parse((command!.inputs["triggers"] as string[])[4]!) as unknown;
      const otherWriters = STACKS.filter((s) => s !== stack).flatMap((s) =>
        Object.values(
          (
            JSON.parse(readStackFile(stackFilePath(s), s).values["ske-platform:audit"]!) as {
              archive: { writerProjects: Record<string, string> };
            }
          ).archive.writerProjects,
        ),
      );
      expect(otherWriters.length).toBeGreaterThan(0);
      expect(
        undeniedProjects(document, site.bucket, [
          ...foreignProjects(plan, env).map((p) => p.project.id),
          ...otherWriters,
        ]),
      ).toEqual([]);
    },
  );
});

describe("object-storage-in-environment", () => {
  it("passes the environment's deny-others policy", () => {
    expect(judge(objectStorageInEnvironment, [archive(denyOthers())])).toEqual([]);
  });

  it("fails a bucket without a policy", () => {
    expect(judge(objectStorageInEnvironment, [archive(undefined)])).toEqual([
      `bucket ske-production-audit: carries no bucket policy; it must deny ${foreignOfProduction.length} other environments' projects`,
    ]);
  });

  it("fails a policy that grants staging's project, or anyone", () => {
    const toStaging = denyOthers();
    toStaging.Statement.push({
      Sid: "ReadForStaging",
      Effect: "Allow",
      Principal: { AWS: [projectPrincipal(stagingOsl2.id)] },
      Action: "s3:GetObject",
      Resource: "arn:aws:s3:::ske-production-audit/*",
    });
    expect(judge(objectStorageInEnvironment, [archive(toStaging)])).toEqual([
      `bucket ske-production-audit: statement ReadForStaging grants "s3:GetObject" to arn:aws:iam:::user/${stagingOsl2.id}, outside this environment's projects`,
    ]);
    const toUser = denyOthers();
    toUser.Statement.push({
      Effect: "Allow",
      Principal: { AWS: `arn:aws:iam::${stagingOsl2.id}:user/backup` },
      Action: "s3:ListBucket",
      Resource: "arn:aws:s3:::ske-production-audit",
    });
    expect(judge(objectStorageInEnvironment, [archive(toUser)])[0]).toMatch(
      /user\/backup, outside this environment's projects/,
    );
    const toAnyone = denyOthers();
    toAnyone.Statement.push({
      Effect: "Allow",
      Principal: "*",
      Action: "s3:GetObject",
      Resource: "arn:aws:s3:::ske-production-audit/*",
    });
    expect(judge(objectStorageInEnvironment, [archive(toAnyone)])[0]).toMatch(/to everyone \(\*\)/);
  });

  it("fails a policy that forgets to deny one other environment", () => {
    const partial = environmentBucketPolicy(
      "ske-production-audit",
      foreignOfProduction.filter((id) => id !== stagingOsl2.id),
    );
    expect(judge(objectStorageInEnvironment, [archive(partial)])).toEqual([
      `bucket ske-production-audit: its policy does not deny everything to staging's project ske-staging (${stagingOsl2.id})`,
    ]);
  });

  it("fails a public ACL and a grant to another project's user, on the archive or any S3 bucket resource", () => {
    expect(judge(objectStorageInEnvironment, [archive(denyOthers(), { ARCHIVE_BUCKET_ACL: "public-read" })])).toEqual([
      "bucket ske-production-audit: canned ACL public-read grants access outside the bucket's project",
    ]);
    const acl: PolicyResource = {
      type: "aws:s3/bucketAclV2:BucketAclV2",
      name: "backups-acl",
      props: {
        bucket: "ske-production-backups",
        accessControlPolicy: {
          grants: [{ grantee: { id: `${stagingOsl2.id}$restore`, type: "CanonicalUser" }, permission: "READ" }],
        },
      },
    };
    expect(judge(objectStorageInEnvironment, [acl])).toEqual([
      `bucket ske-production-backups: ACL grant to ${stagingOsl2.id}$restore reaches outside this environment's projects`,
      `bucket ske-production-backups: carries no bucket policy; it must deny ${foreignOfProduction.length} other environments' projects`,
    ]);
  });

  it("fails a policy it cannot read at preview", () => {
    expect(
      judge(objectStorageInEnvironment, [
        { ...archive(undefined), props: { environment: { ARCHIVE_BUCKET: "b", ARCHIVE_BUCKET_POLICY: "[opaque]" } } },
      ])[0],
    ).toMatch(/not known at preview/);
  });
});

describe("openstack-projects-separated", () => {
  const ec2 = (projectId: string): PolicyResource => ({
    type: "openstack:identity/ec2CredentialV3:Ec2CredentialV3",
    name: "production-osl2-audit-archive-s3",
    props: { projectId },
  });

  it("passes an identity in the environment's own project and fails one in staging's", () => {
    expect(judge(projectsSeparated, [ec2(prodOsl2.id)])).toEqual([]);
    expect(judge(projectsSeparated, [ec2(stagingOsl2.id)])).toEqual([
      `production-osl2-audit-archive-s3.projectId names staging's project ske-staging (${stagingOsl2.id})`,
    ]);
  });

  it("an unknown tenantId the provider computes is the provider's own project; one the program sets, unknown or foreign, fails", () => {
    const urn = "urn:pulumi:production::ske-platform::openstack:networking/network:Network::production-osl2-network";
    const network = (inputs: Record<string, unknown>) => {
      recordInputs(urn, inputs);
      // The state at preview: the inputs, with the provider's computed tenantId unknown.
      return packResource(
        {
          type: "openstack:networking/network:Network",
          name: "production-osl2-network",
          urn,
          props: { tenantId: OPAQUE, ...inputs },
          opts: { protect: false },
        },
        "state",
      );
    };
    const computed = network({ name: "production-osl2" });
    expect(computed.computed).toContain("tenantId");
    expect(judge(projectsSeparated, [computed])).toEqual([]);
    expect(judge(projectsSeparated, [network({ name: "production-osl2", tenantId: OPAQUE })])).toEqual([
      "production-osl2-network.tenantId is not known at preview, so its project cannot be checked",
    ]);
    expect(judge(projectsSeparated, [network({ name: "production-osl2", tenantId: stagingOsl2.id })])).toEqual([
      `production-osl2-network.tenantId names staging's project ske-staging (${stagingOsl2.id})`,
    ]);
    // Without the resource's recorded inputs, nothing counts as computed.
    const unrecorded: PolicyResource = {
      type: "openstack:networking/network:Network",
      name: "production-osl2-network",
      props: { tenantId: OPAQUE },
    };
    expect(judge(projectsSeparated, [unrecorded])).toHaveLength(1);
  });

  it("fails a provider scoped to another environment's project", () => {
    const provider: PolicyResource = {
      type: "pulumi:providers:openstack",
      name: "production-osl2-openstack",
      props: { tenantName: "ske-test", region: "osl2" },
    };
    expect(judge(projectsSeparated, [provider])).toEqual([
      "provider production-osl2-openstack is scoped by name to another environment's project ske-test",
    ]);
  });

  it("fails, and compliance.md says FAIL and SHARED, when the project plan shares a project", () => {
    const shared = structuredClone(plan);
    shared.environments.test.osl2 = { ...prodOsl2, name: "ske-test" };
    const ctx = contextOf("production", shared);
    const results = evaluatePolicies({ resources: [], outputs: [] }, ctx);
    const result = results.find((r) => r.name === "openstack-projects-separated")!;
    expect(result.status).toBe("fail");
    expect(result.violations[0]!.message).toMatch(
      /environments\.test\.osl2\.id: .* is also production\/osl2's project/,
    );
    const report = renderComplianceReport({ ctx, results, resources: [], recorded: [], outputs: [], sites: [] });
    expect(report).toContain("**Verdict: FAIL.**");
    expect(report).toContain(
      `SHARED between environments: production/osl2 \`${prodOsl2.id}\`, test/osl2 \`${prodOsl2.id}\``,
    );
  });

  it("compliance.md lists every environment's projects under 6.1", async () => {
    const { compliance } = await synthOk("staging");
    const section = compliance.report.split("## ")[1]!;
    expect(section).toMatch(/^6\.1 /);
    for (const { environment, site, project } of foreignProjects(plan, "production").concat([
      { environment: "production", site: "osl2", project: prodOsl2 },
    ])) {
      expect(section).toContain(
        `| ${environment}${environment === "staging" ? " (this stack)" : ""} | ${site} | ${project.name} | ${project.domain} | \`${project.id}\` |`,
      );
    }
    expect(section).toContain("No project is shared between environments (5 distinct projects).");
  });
});

describe("the archive reconciler sets the environment's deny and reads it back", () => {
  const writers = [{ cluster: "production-osl2-ops", projectId: "5b0e7c1d2a3f4e5d8c6b7a8f9e0d1c01" }];
  const withServer = async (rgw: ReturnType<typeof fakeRgw>, run: (endpoint: string) => Promise<void>) => {
    await new Promise<void>((resolve) => rgw.server.listen(0, "127.0.0.1", resolve));
    try {
      await run(`http://127.0.0.1:${(rgw.server.address() as AddressInfo).port}`);
    } finally {
      await new Promise<void>((resolve) => rgw.server.close(() => resolve()));
    }
  };
  const specAt = (endpoint: string): ArchiveBucketSpec => ({
    endpoint,
    bucket: "audit",
    region: "osl2",
    mode: "COMPLIANCE",
    days: 365,
    writers,
    foreignProjectIds: foreignOfProduction,
    policy: JSON.stringify(archiveBucketPolicy("audit", writers, foreignOfProduction)),
  });
  const credentials = { accessKeyId: "AK", secretAccessKey: "SK" };

  it("puts the one document, reads back every other environment's deny, and changes nothing the second time", async () => {
    const rgw = fakeRgw();
    await withServer(rgw, async (endpoint) => {
      const client = await archiveClient(specAt(endpoint), credentials);
      const { readBack } = await ensureArchiveBucket(client, specAt(endpoint));
      expect(JSON.parse(rgw.buckets.get("audit")!.policy!)).toEqual(
        archiveBucketPolicy("audit", writers, foreignOfProduction),
      );
      expect(undeniedProjects(JSON.parse(rgw.buckets.get("audit")!.policy!), "audit", foreignOfProduction)).toEqual([]);
      expect(
        readBack.denials
          .filter((d) => d.actions.includes("s3:*"))
          .map((d) => d.principal)
          .sort(),
      ).toEqual(foreignOfProduction.map(projectPrincipal).sort());
      rgw.calls.length = 0;
      await ensureArchiveBucket(client, specAt(endpoint));
      expect(rgw.calls.filter((c) => c.startsWith("PUT"))).toEqual([]);
      client.destroy();
    });
  });

  it("fails when the store does not keep what was put", async () => {
    const rgw = fakeRgw({ keepsPolicy: false });
    await withServer(rgw, async (endpoint) => {
      const client = await archiveClient(specAt(endpoint), credentials);
      await expect(ensureArchiveBucket(client, specAt(endpoint))).rejects.toThrow(
        /does not deny everything to other environments' projects/,
      );
      client.destroy();
    });
  });
});
