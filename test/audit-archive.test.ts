import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
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
  WRITER_DENIED_ACTIONS,
  archiveBucketPolicy,
  archiveClient,
  ensureArchiveBucket,
  readBackReport,
  verifyArchiveBucket,
  writerPrincipal,
  type ArchiveBucketSpec,
  type ArchiveReadBack,
} from "../components/audit-trail";
import { ConfigError, loadPlatformConfig, readAddressPlan } from "../config/load";
import { archiveWritersPutOnly } from "../policy/audit-trail-controls";
import type { PolicyResource } from "../policy/model";
import { readStackFile } from "../synth/stack-file";
import { plannedClusterNames } from "../config/archive-writers";
import { loadStack, runGitOps } from "./support/gitops-fixture";
import { ROOT, STACKS, ofType, synthOk, variantFile } from "./support/stacks";
import { within } from "./support/timed";

const OWNER = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
const WRITERS = [
  { cluster: "test-osl2-ops", projectId: "9d3a61c2-4b7e-4f1a-8c25-6e0f3b2a9d01" },
  { cluster: "test-osl2-mgmt", projectId: "9d3a61c2-4b7e-4f1a-8c25-6e0f3b2a9d02" },
];

/**
 * A local stand-in for RGW's bucket API, spoken over HTTP so the real AWS SDK
 * client (signing, XML, errors) is what the tests exercise. It insists on
 * Content-MD5 where RGW does.
 */
function fakeRgw() {
  const buckets = new Map<string, { lock: string | null; policy: string | null }>();
  const calls: string[] = [];
  const xml = (res: http.ServerResponse, status: number, body: string) => {
    res.writeHead(status, { "content-type": "application/xml" });
    res.end(body);
  };
  const error = (res: http.ServerResponse, status: number, code: string) => xml(res, status, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = new URL(req.url ?? "/", "http://fake");
      const name = decodeURIComponent(url.pathname.split("/")[1] ?? "");
      const q = url.searchParams;
      const what = q.has("object-lock") ? "object-lock" : q.has("policy") ? "policy" : q.has("acl") ? "acl" : "bucket";
      calls.push(`${req.method} ${what}`);
      const bucket = buckets.get(name);
      const md5Ok = () => req.headers["content-md5"] === createHash("md5").update(body).digest("base64");
      if (what === "bucket" && req.method === "HEAD") { res.writeHead(bucket ? 200 : 404); res.end(); return; }
      if (what === "bucket" && req.method === "PUT") {
        buckets.set(name, { lock: req.headers["x-amz-bucket-object-lock-enabled"] === "true" ? "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>" : null, policy: null });
        res.writeHead(200); res.end(); return;
      }
      if (!bucket) { error(res, 404, "NoSuchBucket"); return; }
      if (what === "object-lock" && req.method === "GET") { if (bucket.lock) xml(res, 200, bucket.lock); else error(res, 404, "ObjectLockConfigurationNotFoundError"); return; }
      if (what === "object-lock" && req.method === "PUT") {
        if (!md5Ok()) { error(res, 400, "InvalidDigest"); return; }
        if (!bucket.lock) { error(res, 409, "InvalidBucketState"); return; }
        bucket.lock = body; res.writeHead(200); res.end(); return;
      }
      if (what === "policy" && req.method === "GET") {
        if (bucket.policy) { res.writeHead(200, { "content-type": "application/json" }); res.end(bucket.policy); } else error(res, 404, "NoSuchBucketPolicy");
        return;
      }
      if (what === "policy" && req.method === "PUT") {
        if (!md5Ok()) { error(res, 400, "InvalidDigest"); return; }
        bucket.policy = body; res.writeHead(204); res.end(); return;
      }
      if (what === "acl" && req.method === "GET") {
        xml(res, 200, `<?xml version="1.0" encoding="UTF-8"?><AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>${OWNER}</ID><DisplayName>${OWNER}</DisplayName></Owner><AccessControlList></AccessControlList></AccessControlPolicy>`);
        return;
      }
      error(res, 405, "MethodNotAllowed");
    });
  });
  return { server, buckets, calls };
}

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
    spec = { endpoint: `http://127.0.0.1:${port}`, bucket: "audit", region: "osl2", mode: "COMPLIANCE", days: 365, writers: WRITERS };
  });
  afterAll(() => new Promise<void>((resolve) => rgw.server.close(() => resolve())));

  it("creates the bucket with object lock, COMPLIANCE retention and the writers' policy, and reports what it read back", async () => {
    const { created, readBack } = await ensureArchiveBucket(await client(), spec);
    expect(created).toBe(true);
    expect(readBack).toEqual({
      bucket: "audit",
      objectLock: { enabled: true, mode: "COMPLIANCE", days: 365 },
      owner: OWNER,
      grants: WRITERS.map((w) => ({ principal: writerPrincipal(w.projectId), actions: ["s3:PutObject"], resources: [`arn:aws:s3:::audit/${w.cluster}/*`] })).sort((a, b) => a.principal.localeCompare(b.principal)),
    });
    expect(JSON.parse(rgw.buckets.get("audit")!.policy!)).toEqual(archiveBucketPolicy("audit", WRITERS));
  });

  it("is idempotent: a second run only reads", async () => {
    rgw.calls.length = 0;
    await ensureArchiveBucket(await client(), { ...spec });
    expect(rgw.calls.filter((c) => c.startsWith("PUT"))).toEqual([]);
  });

  it("extends the lock period but refuses to shorten it or to leave COMPLIANCE", async () => {
    await ensureArchiveBucket(await client(), { ...spec, days: 400 });
    expect(rgw.buckets.get("audit")!.lock).toContain("<Days>400</Days>");
    await expect(ensureArchiveBucket(await client(), { ...spec, days: 30 })).rejects.toThrow(/refusing to shorten that to 30/);
    await expect(ensureArchiveBucket(await client(), { ...spec, days: 400, mode: "GOVERNANCE" })).rejects.toThrow(/COMPLIANCE mode, not GOVERNANCE/);
  });

  it("verification refuses a lock weakened behind the program's back, and a writer that can delete", async () => {
    rgw.buckets.get("audit")!.lock = lockXml("GOVERNANCE", 1);
    await expect(verifyArchiveBucket(await client(), spec)).rejects.toThrow(/default retention mode is GOVERNANCE, not COMPLIANCE; default retention is 1 days, less than 365/);
    rgw.buckets.get("audit")!.lock = lockXml("COMPLIANCE", 400);
    const policy = archiveBucketPolicy("audit", WRITERS);
    policy.Statement[0]!.Action.push("s3:DeleteObject");
    policy.Statement.pop();
    rgw.buckets.get("audit")!.policy = JSON.stringify(policy);
    await expect(verifyArchiveBucket(await client(), spec)).rejects.toThrow(/the writer of test-osl2-ops is granted s3:DeleteObject.*does not deny s3:DeleteObject/);
    rgw.buckets.get("audit")!.policy = JSON.stringify(archiveBucketPolicy("audit", WRITERS));
  });

  it("refuses a writer that is the bucket owner: the deploy identity", async () => {
    await expect(verifyArchiveBucket(await client(), { ...spec, writers: [{ cluster: "test-osl2-ops", projectId: OWNER }] }))
      .rejects.toThrow(/the writer of test-osl2-ops is the bucket owner .* \(the deploy identity\)/);
  });

  it("refuses an existing bucket created without object lock", async () => {
    rgw.buckets.set("plain", { lock: null, policy: null });
    await expect(ensureArchiveBucket(await client(), { ...spec, bucket: "plain" })).rejects.toThrow(/exists without object lock/);
  });

  it("runs as node scripts/audit-archive-bucket.cjs with nothing but runtime dependencies, printing the read-back and no credential", async () => {
    const env = {
      PATH: process.env.PATH ?? "",
      ARCHIVE_ENDPOINT: spec.endpoint, ARCHIVE_BUCKET: "audit", ARCHIVE_REGION: "osl2", ARCHIVE_LOCK_MODE: "COMPLIANCE", ARCHIVE_LOCK_DAYS: "365",
      ARCHIVE_WRITERS: JSON.stringify(WRITERS), ARCHIVE_ACCESS_KEY_ID: "OWNER-AK", ARCHIVE_SECRET_ACCESS_KEY: "OWNER-SK-SECRET",
    };
    // Asynchronously: the fake RGW answers from this process's event loop.
    const run = (action: string, extra: Record<string, string> = {}) =>
      new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["scripts/audit-archive-bucket.cjs", action], { cwd: ROOT, env: { ...env, ...extra } });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => { stdout += d.toString(); });
        child.stderr.on("data", (d: Buffer) => { stderr += d.toString(); });
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
  });
});

describe("what the deploy needs", () => {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

  it("declares the Node that strips types without a flag (22.18), which the reconciler relies on", () => {
    expect((pkg as unknown as { engines: { node: string } }).engines.node).toBe(">=22.18");
  });

  it("runs the reconciler and the verification on plain node, never through tsx, npx or esbuild", () => {
    for (const command of [ARCHIVE_RECONCILE_COMMAND, ARCHIVE_VERIFY_COMMAND]) {
      expect(command).toMatch(/^node scripts\/audit-archive-bucket\.cjs (reconcile|verify)$/);
    }
  });

  it("imports only node builtins and runtime dependencies in the code the reconciler loads", () => {
    const files = ["scripts/audit-archive-bucket.cjs", "components/audit-trail/object-lock.ts"];
    for (const file of files) {
      const source = fs.readFileSync(path.join(ROOT, file), "utf8");
      const specifiers = [...source.matchAll(/(?:from\s+|require\(|import\()\s*"([^"]+)"/g)].map((m) => m[1]!);
      expect(specifiers.length, file).toBeGreaterThan(0);
      for (const spec of specifiers) {
        if (spec.startsWith("node:")) continue;
        if (spec.startsWith(".")) {
          // Plain Node resolves no extensionless relative import in a type-stripped module.
          expect(spec, `${file} imports ${spec}`).toBe("../components/audit-trail/object-lock.ts");
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
  const spec: ArchiveBucketSpec = { endpoint: "https://s3.example.net", bucket: "audit", region: "osl2", mode: "COMPLIANCE", days: 365, writers: WRITERS };
  const readBack = (over: Partial<ArchiveReadBack> = {}): ArchiveReadBack => ({
    bucket: "audit",
    objectLock: { enabled: true, mode: "COMPLIANCE", days: 400 },
    owner: OWNER,
    grants: WRITERS.map((w) => ({ principal: writerPrincipal(w.projectId), actions: ["s3:PutObject"], resources: [`arn:aws:s3:::audit/${w.cluster}/*`] })),
    ...over,
  });

  it("is what RGW answered, not the configured values", () => {
    expect(readBackReport(spec, `${JSON.stringify(readBack())}\n`)).toMatchObject({ readBack: "verified", objectLock: { mode: "COMPLIANCE", days: 400 }, owner: OWNER });
    expect(readBackReport(spec, undefined)).toEqual({ readBack: "not read", reason: "no S3 call was made (offline synth)" });
  });

  it("fails the run when the answer shows a weaker archive", () => {
    expect(() => readBackReport(spec, JSON.stringify(readBack({ objectLock: { enabled: true, mode: "GOVERNANCE", days: 400 } })))).toThrow(/not COMPLIANCE/);
    expect(() => readBackReport(spec, JSON.stringify(readBack({ owner: WRITERS[0]!.projectId })))).toThrow(/is the bucket owner/);
    expect(() => readBackReport(spec, "garbage")).toThrow(/printed no read-back/);
  });

  it("comes from the verify invoke the component runs on every preview and up", async () => {
    const seen: string[] = [];
    await pulumi.runtime.setMocks({
      newResource: (args) => ({ id: `${args.name}_id`, state: args.inputs }),
      call: (args) => {
        seen.push(`${args.token} ${String(args.inputs["command"])}`);
        return args.token === "command:local:run" ? { ...args.inputs, stdout: `${JSON.stringify(readBack({ objectLock: { enabled: true, mode: "COMPLIANCE", days: 777 } }))}\n`, stderr: "" } : args.inputs;
      },
    }, "ske-platform", "test", false);
    const bucket = new AuditArchiveBucket("invoke-test", {
      endpoint: spec.endpoint, bucket: "audit", region: "osl2", mode: "COMPLIANCE", lockDays: 365, retentionDays: 30,
      credentials: { accessKeyId: "AK", secretAccessKey: "SK" }, writers: WRITERS,
    });
    const report = await within(bucket.readBack, 10_000, "archive read-back");
    expect(report).toMatchObject({ readBack: "verified", objectLock: { mode: "COMPLIANCE", days: 777 } });
    expect(seen).toContain(`command:local:run ${ARCHIVE_VERIFY_COMMAND}`);
    expect(await within(pulumi.isSecret(bucket.readBack as pulumi.Output<unknown>) as unknown as Promise<boolean>)).toBe(false);
  });
});

describe("archive writers in config", () => {
  const load = (file: string) => loadPlatformConfig(readStackFile(file, "test"), readAddressPlan());

  it.each(STACKS)("names exactly the clusters the plan builds, in the committed %s stack", (stack) => {
    const { loaded: { config }, plan } = loadStack(stack);
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
    try { load(file); } catch (err) { error = err; }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => `${p.key}: ${p.message}`);
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^ske-platform:audit\.archive\.writerProjects\.test-osl2-mgmt: cluster test-osl2-mgmt has no archive writer project/),
      expect.stringMatching(/^ske-platform:audit\.archive\.writerProjects\.production-osl2-ops: production-osl2-ops is not a cluster of this environment/),
      expect.stringMatching(/^ske-platform:audit\.archive\.writerProjects\.production-osl2-ops: project .* is already the writer of test-osl2-ops/),
    ]));
  });
});

describe("archive-writers-put-only", () => {
  let resources: PolicyResource[];
  beforeAll(async () => {
    const run = await runGitOps("test");
    resources = run.resources.filter((r) => r.custom).map((r) => ({ type: r.type, name: r.name, props: (run.revealed(r.type, r.name) ?? r.inputs) as Record<string, unknown> }));
  });
  const judge = (rs: PolicyResource[]) => archiveWritersPutOnly.validate({ resources: rs, outputs: [] }, {} as never).map((v) => v.message);
  const edit = (pred: (r: PolicyResource) => boolean, change: (props: any) => void) =>
    resources.map((r) => (pred(r) ? (() => { const props = structuredClone(r.props); change(props); return { ...r, props }; })() : r));
  const reconcile = (r: PolicyResource) => r.type === "command:local:Command";
  const opsSecret = (r: PolicyResource) => r.type === "kubernetes:core/v1:Secret" && r.name === "test-osl2-ops-audit-collector-archive-credentials";

  it("passes the GitOps layer as registered: one writer project per cluster, put-only under its prefix", () => {
    expect(judge(resources)).toEqual([]);
    const writers = ofType(resources as never, "openstack:identity/ec2CredentialV3:Ec2CredentialV3").filter((c: any) => c.name.includes("-audit-archive-writer-"));
    expect(writers.map((w: any) => w.props.projectId).sort()).toEqual(WRITERS.map((w) => w.projectId).sort());
    // The value in each collector's Secret is the credential its annotation names, never the owner's.
    const secrets = resources.filter((r) => r.type === "kubernetes:core/v1:Secret" && r.name.endsWith("-archive-credentials"));
    expect(secrets).toHaveLength(WRITERS.length);
    for (const secret of secrets) {
      const named = (secret.props as any).metadata.annotations["ske-platform/archive-writer-credential"];
      expect(named).toMatch(/^test-osl2-audit-archive-writer-/);
      expect((secret.props as any).stringData["access-key-id"]).toBe(`FAKE-ACCESS-${named}`);
    }
  });

  it("fails when a collector is handed the deploy identity's credential (the bucket owner's)", () => {
    const deploy = edit(opsSecret, (p) => { p.metadata.annotations["ske-platform/archive-writer-credential"] = "test-osl2-audit-archive-s3"; });
    expect(judge(deploy)).toEqual(["test-osl2-ops-audit-collector-vector holds test-osl2-audit-archive-s3, the deploy identity's credential (the bucket owner), which can delete and reconfigure the archive"]);
    const unnamed = edit(opsSecret, (p) => { delete p.metadata.annotations; });
    expect(judge(unnamed)).toEqual(["test-osl2-ops-audit-collector-vector: its archive credential names no writer identity, so it may be the deploy identity's"]);
  });

  it("fails when the bucket policy lets a writer delete, write elsewhere or anyone put", () => {
    const widen = (change: (doc: any) => void) => edit(reconcile, (p) => { const doc = JSON.parse(p.triggers[4]); change(doc); p.triggers[4] = JSON.stringify(doc); });
    expect(judge(widen((doc) => { doc.Statement[0].Action.push("s3:DeleteObject"); }))).toEqual([
      `the archive's bucket policy allows s3:DeleteObject to ${writerPrincipal(WRITERS[0]!.projectId)}`,
    ]);
    expect(judge(widen((doc) => { doc.Statement[0].Resource = ["arn:aws:s3:::ske-test-audit/*"]; })))
      .toEqual(["test-osl2-ops-audit-collector-vector: its writer may put to arn:aws:s3:::ske-test-audit/*, not only under its own prefix test-osl2-ops/"]);
    expect(judge(widen((doc) => { doc.Statement.pop(); })).sort()).toEqual(WRITERS.map((w) =>
      `${w.cluster}-audit-collector-vector: the bucket policy does not deny its writer s3:DeleteObject, s3:DeleteObjectVersion, s3:PutObjectRetention, s3:BypassGovernanceRetention, s3:PutBucketObjectLockConfiguration, s3:PutBucketPolicy, s3:DeleteBucketPolicy, s3:PutLifecycleConfiguration, s3:DeleteBucket`).sort());
    expect(judge(widen((doc) => { doc.Statement.push({ Effect: "Allow", Principal: "*", Action: ["s3:GetObject"], Resource: ["arn:aws:s3:::ske-test-audit/*"] }); })))
      .toEqual(["the archive's bucket policy allows s3:GetObject to anyone", "the archive's bucket policy allows s3:GetObject to *"]);
  });

  it("reports a collector whose values are unknown at preview instead of passing it", () => {
    const opaque = edit((r) => r.type === "kubernetes:helm.sh/v3:Release" && r.props.chart === "vector" && r.name.includes("ops"), (p) => { p.values = "[opaque]"; });
    expect(judge(opaque)).toEqual(["test-osl2-ops-audit-collector-vector: its archive sink is not known at preview"]);
  });

  it("fails a reconciler that needs a devDependency at deploy time", () => {
    const tsx = edit(reconcile, (p) => { p.create = "npx --no-install tsx scripts/audit-archive-bucket.ts"; });
    expect(judge(tsx)).toEqual(["the archive reconciler runs `npx --no-install tsx scripts/audit-archive-bucket.ts`, which needs a devDependency at deploy time"]);
  });

  it("explicitly denies writers every delete and reconfiguration the policy requires", () => {
    for (const action of ["s3:DeleteObject", "s3:PutBucketObjectLockConfiguration", "s3:PutBucketPolicy", "s3:BypassGovernanceRetention"]) {
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
    await expect(synthOk("production", file)).rejects.toThrow(/writerProjects\.production-sto2-mgmt: project .* is already the writer of production-osl2-mgmt/);
  }, 60_000);
});


