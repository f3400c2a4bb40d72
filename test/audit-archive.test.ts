import { spawnSync } from "node:child_process";
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ARCHIVE_RECONCILE_COMMAND,
  ARCHIVE_VERIFY_COMMAND,
  AuditArchiveBucket,
  readBackReport,
  type ArchiveBucketSpec,
  type ArchiveReadBack,
} from "../components/audit-trail";
import { archiveClient, ensureArchiveBucket, verifyArchiveBucket } from "../scripts/object-lock-bucket";
import { WRITER_DENIED_ACTIONS, archiveBucketPolicy, projectPrincipal } from "../plan/bucket-policy";
import { ConfigError, loadPlatformConfig, readAddressPlan } from "../config/load";
import { archiveWritersPutOnly } from "../policy/audit-trail-controls";
import { policyContext } from "../policy/context";
import { objectStorageInEnvironment } from "../policy/project-separation";
import { foreignProjects } from "../plan/project-plan";
import type { PolicyResource } from "../policy/model";
import { readStackFile } from "../config/stack-file";
import { readProjectPlan } from "../config/projects";
import { plannedClusterNames } from "../config/archive-writers";
import { loadStack, policyResourcesOf, runGitOps, withEditedProps } from "./support/gitops-fixture";
import { ROOT, STACKS, ofType, stackFilePath, synthOk, variantFile } from "./support/stacks";
import { within } from "./support/timed";
import { FAKE_RGW_OWNER as OWNER, fakeRgw } from "./support/fake-rgw";

const WRITERS = [
  { cluster: "test-osl2-ops", projectId: "9d3a61c24b7e4f1a8c256e0f3b2a9d01" },
  { cluster: "test-osl2-mgmt", projectId: "9d3a61c24b7e4f1a8c256e0f3b2a9d02" },
];
/** Production's and staging's projects, which the test archive must deny everything. */
const FOREIGN = ["9f3c1a7e2b5d4c6e8a0b1c2d3e4f5001", "9f3c1a7e2b5d4c6e8a0b1c2d3e4f6001"];
const policyFor = (bucket: string) => JSON.stringify(archiveBucketPolicy(bucket, WRITERS, FOREIGN));

const lockXml = (mode: string, days: number) =>
  `<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><ObjectLockEnabled>Enabled</ObjectLockEnabled><Rule><DefaultRetention><Mode>${mode}</Mode><Days>${days}</Days></DefaultRetention></Rule></ObjectLockConfiguration>`;

describe("the archive bucket, through the AWS SDK against a fake RGW", () => {
  const rgw = fakeRgw();
  let spec: ArchiveBucketSpec;
  const credentials = { accessKeyId: "OWNER-AK", secretAccessKey: "OWNER-SK" };
  const client = () => archiveClient(spec, credentials);

  beforeAll(async () => {
    await new Promise<void>((resolve) => rgw.server.listen(0, "127.0.0.1", resolve));
    const port = (rgw.server.address() as AddressInfo).port;
    spec = {
      endpoint: `http://127.0.0.1:${port}`,
      bucket: "audit",
      region: "osl2",
      mode: "COMPLIANCE",
      days: 365,
      writers: WRITERS,
      foreignProjectIds: FOREIGN,
      policy: policyFor("audit"),
    };
  });
  afterAll(() => new Promise<void>((resolve) => rgw.server.close(() => resolve())));

  it("creates the bucket with object lock, COMPLIANCE retention and the writers' policy, and reports what it read back", async () => {
    const { created, readBack } = await ensureArchiveBucket(await client(), spec);
    expect(created).toBe(true);
    expect(readBack).toEqual({
      bucket: "audit",
      objectLock: { enabled: true, mode: "COMPLIANCE", days: 365 },
      owner: OWNER,
      grants: WRITERS.map((w) => ({
        principal: projectPrincipal(w.projectId),
        actions: ["s3:PutObject"],
        resources: [`arn:aws:s3:::audit/${w.cluster}/*`],
      })).sort((a, b) => a.principal.localeCompare(b.principal)),
      denials: [
        ...WRITERS.map((w) => ({
          principal: projectPrincipal(w.projectId),
          actions: [...WRITER_DENIED_ACTIONS].sort(),
          resources: ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
        })),
        ...FOREIGN.map((id) => ({
          principal: projectPrincipal(id),
          actions: ["s3:*"],
          resources: ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
        })),
      ],
    });
    expect(JSON.parse(rgw.buckets.get("audit")!.policy!)).toEqual(archiveBucketPolicy("audit", WRITERS, FOREIGN));
  });

  it("is idempotent: a second run only reads", async () => {
    rgw.calls.length = 0;
    await ensureArchiveBucket(await client(), { ...spec });
    expect(rgw.calls.filter((c) => c.startsWith("PUT"))).toEqual([]);
  });

  it("extends the lock period but refuses to shorten it or to leave COMPLIANCE", async () => {
    await ensureArchiveBucket(await client(), { ...spec, days: 400 });
    expect(rgw.buckets.get("audit")!.lock).toContain("<Days>400</Days>");
    await expect(ensureArchiveBucket(await client(), { ...spec, days: 30 })).rejects.toThrow(
      /refusing to shorten that to 30/,
    );
    await expect(ensureArchiveBucket(await client(), { ...spec, days: 400, mode: "GOVERNANCE" })).rejects.toThrow(
      /COMPLIANCE mode, not GOVERNANCE/,
    );
  });

  it("verification refuses a lock weakened behind the program's back, and a writer that can delete", async () => {
    rgw.buckets.get("audit")!.lock = lockXml("GOVERNANCE", 1);
    await expect(verifyArchiveBucket(await client(), spec)).rejects.toThrow(
      /default retention mode is GOVERNANCE, not COMPLIANCE; default retention is 1 days, less than 365/,
    );
    rgw.buckets.get("audit")!.lock = lockXml("COMPLIANCE", 400);
    const policy = archiveBucketPolicy("audit", WRITERS, FOREIGN);
    (policy.Statement[0]!.Action as string[]).push("s3:DeleteObject");
    policy.Statement.splice(
      policy.Statement.findIndex((s) => s.Sid === "writers-never-delete-or-reconfigure"),
      1,
    );
    rgw.buckets.get("audit")!.policy = JSON.stringify(policy);
    await expect(verifyArchiveBucket(await client(), spec)).rejects.toThrow(
      /the writer of test-osl2-ops is granted s3:DeleteObject.*does not deny s3:DeleteObject/,
    );
    rgw.buckets.get("audit")!.policy = policyFor("audit");
  });

  it("verification refuses a policy that no longer denies another environment's project, and the reconciler restores it", async () => {
    const policy = archiveBucketPolicy("audit", WRITERS, FOREIGN);
    policy.Statement.pop();
    rgw.buckets.get("audit")!.policy = JSON.stringify(policy);
    await expect(verifyArchiveBucket(await client(), spec)).rejects.toThrow(
      `does not deny everything to other environments' projects ${FOREIGN.join(", ")}`,
    );
    // The lock was extended to 400 days above, which the reconciler keeps.
    await ensureArchiveBucket(await client(), { ...spec, days: 400 });
    expect(JSON.parse(rgw.buckets.get("audit")!.policy!)).toEqual(archiveBucketPolicy("audit", WRITERS, FOREIGN));
  });

  it("refuses to set a document weaker than the spec: one without the other environments' deny, or widening a writer", async () => {
    const withoutDeny = archiveBucketPolicy("audit", WRITERS, FOREIGN);
    withoutDeny.Statement.pop();
    rgw.calls.length = 0;
    await expect(ensureArchiveBucket(await client(), { ...spec, policy: JSON.stringify(withoutDeny) })).rejects.toThrow(
      /refusing to set a bucket policy that is not append-only: the bucket policy does not deny everything to other environments' projects/,
    );
    const widened = archiveBucketPolicy("audit", WRITERS, FOREIGN);
    (widened.Statement[1]!.Action as string[]).push("s3:DeleteObject");
    await expect(ensureArchiveBucket(await client(), { ...spec, policy: JSON.stringify(widened) })).rejects.toThrow(
      /the writer of test-osl2-mgmt is granted s3:DeleteObject/,
    );
    expect(rgw.calls).toEqual([]);
  });

  it("refuses a writer that is the bucket owner: the deploy identity", async () => {
    await expect(
      verifyArchiveBucket(await client(), { ...spec, writers: [{ cluster: "test-osl2-ops", projectId: OWNER }] }),
    ).rejects.toThrow(/the writer of test-osl2-ops is the bucket owner .* \(the deploy identity\)/);
  });

  it("refuses an existing bucket created without object lock", async () => {
    rgw.buckets.set("plain", { lock: null, policy: null });
    await expect(
      ensureArchiveBucket(await client(), { ...spec, bucket: "plain", policy: policyFor("plain") }),
    ).rejects.toThrow(/exists without object lock/);
  });

  it("reports the failing call and status, e.g. denied credentials, and never the secret", async () => {
    const denying = http.createServer((_req, res) => {
      res.writeHead(403, { "content-type": "application/xml" });
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>AccessDenied</Message></Error>`,
      );
    });
    await new Promise<void>((resolve) => denying.listen(0, "127.0.0.1", resolve));
    const at = { ...spec, endpoint: `http://127.0.0.1:${(denying.address() as AddressInfo).port}` };
    try {
      const denied = archiveClient(at, { accessKeyId: "AK", secretAccessKey: "DENIED-SECRET" }).then((c) =>
        ensureArchiveBucket(c, at),
      );
      await expect(denied).rejects.toThrow(
        new RegExp(`^HeadBucket of bucket "audit" at ${at.endpoint.replace(/\./g, "\\.")} failed with HTTP 403`),
      );
      await expect(denied).rejects.not.toThrow(/DENIED-SECRET/);
      await expect(archiveClient(at, credentials).then((c) => verifyArchiveBucket(c, at))).rejects.toThrow(
        /^GetObjectLockConfiguration of bucket "audit" .* failed with HTTP 403/,
      );
    } finally {
      await new Promise<void>((resolve) => denying.close(() => resolve()));
    }
  });

  it("runs as node scripts/audit-archive-bucket.cjs with nothing but runtime dependencies, printing the read-back and no credential", async () => {
    const env = {
      PATH: process.env.PATH ?? "",
      ARCHIVE_ENDPOINT: spec.endpoint,
      ARCHIVE_BUCKET: "audit",
      ARCHIVE_REGION: "osl2",
      ARCHIVE_LOCK_MODE: "COMPLIANCE",
      ARCHIVE_LOCK_DAYS: "365",
      ARCHIVE_WRITERS: JSON.stringify(WRITERS),
      ARCHIVE_FOREIGN_PROJECTS: JSON.stringify(FOREIGN),
      ARCHIVE_BUCKET_POLICY: policyFor("audit"),
      ARCHIVE_ACCESS_KEY_ID: "OWNER-AK",
      ARCHIVE_SECRET_ACCESS_KEY: "OWNER-SK-SECRET",
    };
    // Asynchronously: the fake RGW answers from this process's event loop.
    const run = (action: string, extra: Record<string, string> = {}) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["scripts/audit-archive-bucket.cjs", action], {
          cwd: ROOT,
          env: { ...env, ...extra },
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => {
          stdout += d.toString();
        });
        child.stderr.on("data", (d: Buffer) => {
          stderr += d.toString();
        });
        child.on("close", (status) => resolve({ status, stdout, stderr }));
      });
    const ok = await run("verify");
    expect(ok.stderr).not.toContain("OWNER-SK-SECRET");
    expect(ok.status, ok.stderr).toBe(0);
    const readBack = JSON.parse(ok.stdout) as ArchiveReadBack;
    expect(readBack.objectLock).toEqual({ enabled: true, mode: "COMPLIANCE", days: 400 });
    expect(ok.stdout).not.toContain("OWNER-SK-SECRET");
    const tooLong = await run("verify", { ARCHIVE_LOCK_DAYS: "500" });
    expect(tooLong.status).toBe(1);
    expect(tooLong.stderr).toMatch(/not append-only: default retention is 400 days, less than 500/);
    const foreignNotDenied = await run("verify", {
      ARCHIVE_FOREIGN_PROJECTS: JSON.stringify([...FOREIGN, "9f3c1a7e2b5d4c6e8a0b1c2d3e4f7001"]),
    });
    expect(foreignNotDenied.status).toBe(1);
    expect(foreignNotDenied.stderr).toMatch(
      /does not deny everything to other environments' projects 9f3c1a7e2b5d4c6e8a0b1c2d3e4f7001/,
    );
  });
});

describe("what the deploy needs", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  it("declares the Node that strips types without a flag (22.18), which the reconciler relies on", () => {
    expect((pkg as unknown as { engines: { node: string } }).engines.node).toBe(">=22.18");
  });

  it("runs the reconciler and the verification on plain node, never through tsx, npx or esbuild", () => {
    for (const command of [ARCHIVE_RECONCILE_COMMAND, ARCHIVE_VERIFY_COMMAND]) {
      expect(command).toMatch(/^node scripts\/audit-archive-bucket\.cjs (reconcile|verify)$/);
    }
  });

  it("loads with plain Node, no devDependency: the script gets as far as reading its settings", () => {
    const run = spawnSync(process.execPath, [path.join(ROOT, "scripts", "audit-archive-bucket.cjs"), "verify"], {
      encoding: "utf8",
      env: { PATH: process.env.PATH ?? "" },
    });
    expect(run.status).toBe(1);
    expect(run.stderr).not.toMatch(/Cannot find module|ERR_MODULE_NOT_FOUND|MODULE_NOT_FOUND/);
    expect(run.stderr).toMatch(/ARCHIVE_[A-Z_]+ is not set/);
  });

  it("imports only node builtins, runtime dependencies and pure plan/ modules in the code the reconciler loads, never a component", () => {
    const files = [
      "scripts/audit-archive-bucket.cjs",
      "scripts/object-lock-bucket.ts",
      "plan/object-lock.ts",
      "plan/bucket-policy.ts",
      "plan/display-text.ts",
    ];
    const loaded: Record<string, string[]> = {
      "scripts/audit-archive-bucket.cjs": ["./object-lock-bucket.ts"],
      "scripts/object-lock-bucket.ts": ["../plan/bucket-policy", "../plan/object-lock"],
      "plan/object-lock.ts": ["./bucket-policy", "./display-text"],
    };
    for (const file of files) {
      const source = fs.readFileSync(path.join(ROOT, file), "utf8");
      const specifiers = [...source.matchAll(/(?:from\s+|require\(|import\()\s*"([^"]+)"/g)].map((m) => m[1]!);
      // The document's builder and the text helper at the end of the chain import nothing at all.
      if (file !== "plan/bucket-policy.ts" && file !== "plan/display-text.ts")
        expect(specifiers.length, file).toBeGreaterThan(0);
      for (const spec of specifiers) {
        if (spec.startsWith("node:")) continue;
        if (spec.startsWith(".")) {
          // Only the chain above; an extensionless import is found by the script's `.ts` resolve hook.
          expect(loaded[file], `${file} imports ${spec}`).toContain(spec);
          const target = path.relative(ROOT, path.resolve(ROOT, path.dirname(file), spec));
          expect(files).toContain(/\.[cm]?[jt]s$/.test(target) ? target : `${target}.ts`);
          // The program's command runs this chain; a component in it would import the program back.
          expect(target.startsWith("components"), `${file} imports ${spec}`).toBe(false);
          continue;
        }
        const pkgName = spec.startsWith("@") ? spec.split("/").slice(0, 2).join("/") : spec.split("/")[0]!;
        expect(pkg.dependencies, `${file} imports ${pkgName}`).toHaveProperty(pkgName);
        expect(pkg.devDependencies).not.toHaveProperty(pkgName);
      }
    }
  });
});

describe("the read-back the stack reports", () => {
  const spec: ArchiveBucketSpec = {
    endpoint: "https://s3.example.net",
    bucket: "audit",
    region: "osl2",
    mode: "COMPLIANCE",
    days: 365,
    writers: WRITERS,
    foreignProjectIds: FOREIGN,
    policy: policyFor("audit"),
  };
  const readBack = (over: Partial<ArchiveReadBack> = {}): ArchiveReadBack => ({
    bucket: "audit",
    objectLock: { enabled: true, mode: "COMPLIANCE", days: 400 },
    owner: OWNER,
    grants: WRITERS.map((w) => ({
      principal: projectPrincipal(w.projectId),
      actions: ["s3:PutObject"],
      resources: [`arn:aws:s3:::audit/${w.cluster}/*`],
    })),
    denials: [
      ...WRITERS.map((w) => ({
        principal: projectPrincipal(w.projectId),
        actions: [...WRITER_DENIED_ACTIONS],
        resources: ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
      })),
      ...FOREIGN.map((id) => ({
        principal: projectPrincipal(id),
        actions: ["s3:*"],
        resources: ["arn:aws:s3:::audit", "arn:aws:s3:::audit/*"],
      })),
    ],
    ...over,
  });

  it("is what RGW answered, not the configured values", () => {
    expect(readBackReport(spec, `${JSON.stringify(readBack())}\n`)).toMatchObject({
      readBack: "verified",
      objectLock: { mode: "COMPLIANCE", days: 400 },
      owner: OWNER,
    });
    expect(readBackReport(spec, undefined)).toEqual({
      readBack: "not read",
      reason: "no S3 call was made (offline synth)",
    });
  });

  it("fails the run when the answer shows a weaker archive", () => {
    expect(() =>
      readBackReport(spec, JSON.stringify(readBack({ objectLock: { enabled: true, mode: "GOVERNANCE", days: 400 } }))),
    ).toThrow(/not COMPLIANCE/);
    expect(() => readBackReport(spec, JSON.stringify(readBack({ owner: WRITERS[0]!.projectId })))).toThrow(
      /is the bucket owner/,
    );
    expect(() => readBackReport(spec, "garbage")).toThrow(/printed no read-back/);
    expect(() =>
      readBackReport(spec, JSON.stringify(readBack({ denials: readBack().denials.slice(0, WRITERS.length) }))),
    ).toThrow(/does not deny everything to other environments' projects/);
    expect(() => readBackReport(spec, JSON.stringify(readBack({ denials: readBack().denials.slice(1) })))).toThrow(
      /does not deny s3:DeleteObject.* to the writer of test-osl2-ops/,
    );
  });

  it("comes from the verify invoke the component runs on every preview and up", async () => {
    const seen: string[] = [];
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => ({ id: `${args.name}_id`, state: args.inputs }),
        call: (args) => {
          seen.push(`${args.token} ${String(args.inputs["command"])}`);
          return args.token === "command:local:run"
            ? {
                ...args.inputs,
                stdout: `${JSON.stringify(readBack({ objectLock: { enabled: true, mode: "COMPLIANCE", days: 777 } }))}\n`,
                stderr: "",
              }
            : args.inputs;
        },
      },
      "ske-platform",
      "test",
      false,
    );
    const bucket = new AuditArchiveBucket("invoke-test", {
      endpoint: spec.endpoint,
      bucket: "audit",
      region: "osl2",
      mode: "COMPLIANCE",
      lockDays: 365,
      retentionDays: 30,
      credentials: { accessKeyId: "AK", secretAccessKey: "SK" },
      writers: WRITERS,
      foreignProjectIds: FOREIGN,
    });
    const report = await within(bucket.readBack, 10_000, "archive read-back");
    expect(report).toMatchObject({ readBack: "verified", objectLock: { mode: "COMPLIANCE", days: 777 } });
    expect(seen).toContain(`command:local:run ${ARCHIVE_VERIFY_COMMAND}`);
    expect(await within(pulumi.isSecret(bucket.readBack as pulumi.Output<unknown>))).toBe(false);
  });
});

describe("archive writers in config", () => {
  const load = (file: string) => loadPlatformConfig(readStackFile(file, "test"), readAddressPlan());

  it.each(STACKS)("names exactly the clusters the plan builds, in the committed %s stack", (stack) => {
    const {
      loaded: { config },
      plan,
    } = loadStack(stack);
    expect(plannedClusterNames(config).sort()).toEqual(plan.clusters.map((c) => c.name).sort());
    expect(Object.keys(config.audit.archive.writerProjects).sort()).toEqual(plan.clusters.map((c) => c.name).sort());
  });

  it("refuses a cluster without a writer project, a shared writer and a writer for a foreign cluster, naming the key", () => {
    const file = variantFile("test", (c) => {
      c["ske-platform:audit"].archive.writerProjects = {
        "test-osl2-ops": WRITERS[0]!.projectId,
        "production-osl2-ops": WRITERS[0]!.projectId,
      };
    });
    let error: unknown;
    try {
      load(file);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(
          /^ske-platform:audit\.archive\.writerProjects\.test-osl2-mgmt: cluster test-osl2-mgmt has no archive writer project/,
        ),
        expect.stringMatching(
          /^ske-platform:audit\.archive\.writerProjects\.production-osl2-ops: production-osl2-ops is not a cluster of this environment/,
        ),
        expect.stringMatching(
          /^ske-platform:audit\.archive\.writerProjects\.production-osl2-ops: project .* is already the writer of test-osl2-ops/,
        ),
      ]),
    );
  });
});

describe("archive-writers-put-only", () => {
  let resources: PolicyResource[];
  beforeAll(async () => {
    resources = policyResourcesOf(await runGitOps("test"));
  });
  const judge = (rs: PolicyResource[]) =>
    archiveWritersPutOnly.validate({ resources: rs, outputs: [] }, {} as never).map((v) => v.message);
  const edit = (pred: (r: PolicyResource) => boolean, change: (props: any) => void) =>
    withEditedProps(resources, pred, change);
  const reconcile = (r: PolicyResource) => r.type === "command:local:Command";
  const opsSecret = (r: PolicyResource) =>
    r.type === "kubernetes:core/v1:Secret" && r.name === "test-osl2-ops-audit-collector-archive-credentials";

  it("passes the GitOps layer as registered: one writer project per cluster, put-only under its prefix", () => {
    expect(judge(resources)).toEqual([]);
    const writers = ofType(resources as never, "openstack:identity/ec2CredentialV3:Ec2CredentialV3").filter((c: any) =>
      c.name.includes("-audit-archive-writer-"),
    );
    expect(writers.map((w: any) => w.props.projectId).sort()).toEqual(WRITERS.map((w) => w.projectId).sort());
    // The value in each collector's Secret is the credential its annotation names, never the owner's.
    const secrets = resources.filter(
      (r) => r.type === "kubernetes:core/v1:Secret" && r.name.endsWith("-archive-credentials"),
    );
    expect(secrets).toHaveLength(WRITERS.length);
    for (const secret of secrets) {
      const named = (secret.props as any).metadata.annotations["ske-platform/archive-writer-credential"];
      expect(named).toMatch(/^test-osl2-audit-archive-writer-/);
      expect((secret.props as any).stringData["access-key-id"]).toBe(`FAKE-ACCESS-${named}`);
    }
  });

  it("fails when a collector is handed the deploy identity's credential (the bucket owner's)", () => {
    const deploy = edit(opsSecret, (p) => {
      p.metadata.annotations["ske-platform/archive-writer-credential"] = "test-osl2-audit-archive-s3";
    });
    expect(judge(deploy)).toEqual([
      "test-osl2-ops-audit-collector-vector holds test-osl2-audit-archive-s3, the deploy identity's credential (the bucket owner), which can delete and reconfigure the archive",
    ]);
    const unnamed = edit(opsSecret, (p) => {
      delete p.metadata.annotations;
    });
    expect(judge(unnamed)).toEqual([
      "test-osl2-ops-audit-collector-vector: its archive credential names no writer identity, so it may be the deploy identity's",
    ]);
  });

  it("fails when the bucket policy lets a writer delete, write elsewhere or anyone put", () => {
    // The document the reconciler sets, as both policies read it.
    const widen = (change: (doc: any) => void) =>
      edit(reconcile, (p) => {
        const doc = JSON.parse(p.environment.ARCHIVE_BUCKET_POLICY);
        change(doc);
        p.environment.ARCHIVE_BUCKET_POLICY = JSON.stringify(doc);
      });
    expect(
      judge(
        widen((doc) => {
          doc.Statement[0].Action.push("s3:DeleteObject");
        }),
      ),
    ).toEqual([`the archive's bucket policy allows s3:DeleteObject to ${projectPrincipal(WRITERS[0]!.projectId)}`]);
    expect(
      judge(
        widen((doc) => {
          doc.Statement[0].Resource = ["arn:aws:s3:::ske-test-audit/*"];
        }),
      ),
    ).toEqual([
      "test-osl2-ops-audit-collector-vector: its writer may put to arn:aws:s3:::ske-test-audit/*, not only under its own prefix test-osl2-ops/",
    ]);
    expect(
      judge(
        widen((doc) => {
          doc.Statement = doc.Statement.filter((st: any) => st.Sid !== "writers-never-delete-or-reconfigure");
        }),
      ).sort(),
    ).toEqual(
      WRITERS.map(
        (w) =>
          `${w.cluster}-audit-collector-vector: the bucket policy does not deny its writer s3:DeleteObject, s3:DeleteObjectVersion, s3:PutObjectRetention, s3:BypassGovernanceRetention, s3:PutBucketObjectLockConfiguration, s3:PutBucketPolicy, s3:DeleteBucketPolicy, s3:PutLifecycleConfiguration, s3:DeleteBucket`,
      ).sort(),
    );
    expect(
      judge(
        widen((doc) => {
          doc.Statement.push({
            Effect: "Allow",
            Principal: "*",
            Action: ["s3:GetObject"],
            Resource: ["arn:aws:s3:::ske-test-audit/*"],
          });
        }),
      ),
    ).toEqual([
      "the archive's bucket policy allows s3:GetObject to anyone",
      "the archive's bucket policy allows s3:GetObject to *",
    ]);
  });

  it("judges the one document object-storage-in-environment judges: each policy fails when its own part is missing", () => {
    const {
      loaded: { config, addressPlan },
    } = loadStack("test");
    const ctx = policyContext(config, addressPlan);
    const separation = (rs: PolicyResource[]) =>
      objectStorageInEnvironment.validate({ resources: rs, outputs: [] }, ctx).map((v) => v.message);
    const widen = (change: (doc: any) => void) =>
      edit(reconcile, (p) => {
        const doc = JSON.parse(p.environment.ARCHIVE_BUCKET_POLICY);
        change(doc);
        p.environment.ARCHIVE_BUCKET_POLICY = JSON.stringify(doc);
      });
    const without = (sid: string) =>
      widen((doc) => {
        doc.Statement = doc.Statement.filter((st: any) => st.Sid !== sid);
      });
    // As registered, both pass the same document; the writers are this environment's own projects.
    expect(judge(resources)).toEqual([]);
    expect(separation(resources)).toEqual([]);
    const foreign = foreignProjects(readProjectPlan(), "test");
    // Without the other environments' deny: only object-storage-in-environment fails.
    expect(judge(without("DenyOtherEnvironments"))).toEqual([]);
    expect(separation(without("DenyOtherEnvironments"))).toEqual([
      `bucket ske-test-audit: its policy does not deny everything to ${foreign.map((p) => `${p.environment}'s project ${p.project.name} (${p.project.id})`).join(", ")}`,
    ]);
    // Without the writers' deny: only archive-writers-put-only fails.
    expect(separation(without("writers-never-delete-or-reconfigure"))).toEqual([]);
    expect(judge(without("writers-never-delete-or-reconfigure"))).toHaveLength(WRITERS.length);
    // A writer grant handed to production's project: both fail.
    const toProduction = widen((doc) => {
      doc.Statement[0].Principal.AWS = [projectPrincipal(foreign[0]!.project.id)];
    });
    expect(separation(toProduction)).toEqual([
      expect.stringMatching(
        new RegExp(
          `statement put-test-osl2-ops grants .* to arn:aws:iam:::user/${foreign[0]!.project.id}, outside this environment's projects`,
        ),
      ),
    ]);
    expect(judge(toProduction)).toContain(
      "test-osl2-ops-audit-collector-vector: the bucket policy grants its writer " +
        projectPrincipal(WRITERS[0]!.projectId) +
        " nothing, so it cannot archive",
    );
    // The writers count as the environment's own only because its config names them.
    expect(
      objectStorageInEnvironment.validate({ resources, outputs: [] }, { ...ctx, archiveWriterProjects: [] }),
    ).toHaveLength(WRITERS.length);
  });

  it("reports a collector whose values are unknown at preview instead of passing it", () => {
    const opaque = edit(
      (r) => r.type === "kubernetes:helm.sh/v3:Release" && r.props.chart === "vector" && r.name.includes("ops"),
      (p) => {
        p.values = "[opaque]";
      },
    );
    expect(judge(opaque)).toEqual(["test-osl2-ops-audit-collector-vector: its archive sink is not known at preview"]);
  });

  it("fails a reconciler that needs a devDependency at deploy time", () => {
    const tsx = edit(reconcile, (p) => {
      p.create = "npx --no-install tsx scripts/audit-archive-bucket.ts";
    });
    expect(judge(tsx)).toEqual([
      "the archive reconciler runs `npx --no-install tsx scripts/audit-archive-bucket.ts`, which needs a devDependency at deploy time",
    ]);
  });

  it("explicitly denies writers every delete and reconfiguration the policy requires", () => {
    for (const action of [
      "s3:DeleteObject",
      "s3:PutBucketObjectLockConfiguration",
      "s3:PutBucketPolicy",
      "s3:BypassGovernanceRetention",
    ]) {
      expect(WRITER_DENIED_ACTIONS).toContain(action);
    }
  });
});

describe("synth of a stack whose collectors would share one writer", () => {
  it("is refused by config, before any resource, naming the key and file", async () => {
    const file = variantFile("production", (c) => {
      const w = c["ske-platform:audit"].archive.writerProjects;
      w["production-sto2-mgmt"] = w["production-osl2-mgmt"];
    });
    await expect(synthOk("production", file)).rejects.toThrow(
      /writerProjects\.production-sto2-mgmt: project .* is already the writer of production-osl2-mgmt/,
    );
  }, 60_000);
});

describe("synth of a stack whose writer is a declared project, or another environment's writer", () => {
  const projects = readProjectPlan();
  const committedTest = (
    JSON.parse(readStackFile(stackFilePath("test"), "test").values["ske-platform:audit"]!) as {
      archive: { writerProjects: Record<string, string> };
    }
  ).archive.writerProjects;

  it.each([
    [
      "production's own declared project, the deploy identity that owns the bucket",
      () => projects.environments.production.osl2!.id,
      /production's own project in openstack-projects\.yaml \(osl2\), the deploy identity that owns the bucket/,
    ],
    [
      "staging's declared project, which the bucket policy denies",
      () => projects.environments.staging.osl2!.id,
      /staging's project in openstack-projects\.yaml \(osl2\), which the bucket policy denies everything/,
    ],
    [
      "a writer of the committed test stack",
      () => committedTest["test-osl2-ops"]!,
      /is also an archive writer in Pulumi\.test\.yaml/,
    ],
  ])(
    "is refused when production-osl2-mgmt writes as %s, naming the key and file",
    async (_what, project, message) => {
      const file = variantFile("production", (c) => {
        c["ske-platform:audit"].archive.writerProjects["production-osl2-mgmt"] = project();
      });
      const refused = synthOk("production", file);
      await expect(refused).rejects.toThrow(/ske-platform:audit\.archive\.writerProjects\.production-osl2-mgmt/);
      await expect(refused).rejects.toThrow(message);
    },
    60_000,
  );
});
