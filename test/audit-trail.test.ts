import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  AuditArchiveBucket,
  TALOS_AUDIT_LOG_DIR,
  collectorConfig,
  ensureObjectLockBucket,
  lokiValues,
  objectLockConfigurationXml,
  parseObjectLockConfiguration,
  retentionPeriod,
  signRequest,
  type ArchiveBucketSpec,
} from "../components/audit-trail";
import type { S3Request, S3Response } from "../components/audit-trail/object-lock";
import { ConfigError, loadPlatformConfig, readAddressPlan } from "../config/load";
import { AUDIT_INGEST_PORT } from "../stacks/gitops";
import { PLATFORM_INGEST_PORT } from "../plan/security-rules";
import { runProgram, type RecordedResource } from "../synth/mock-runtime";
import { readStackFile } from "../synth/stack-file";
import { fakeEndpoint, loadStack, runGitOps, type GitOpsRun } from "./support/gitops-fixture";
import { STACKS, ofType, stackFilePath, variantFile } from "./support/stacks";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const COMMAND = "command:local:Command";
const providerOf = (r: RecordedResource) => r.provider?.split("::")[3];

describe("SigV4 signing of the archive's S3 calls", () => {
  it("reproduces the published S3 GET-object example signature", () => {
    const headers = signRequest(
      { method: "GET", url: "https://examplebucket.s3.amazonaws.com/test.txt", headers: { range: "bytes=0-9" }, body: "" },
      { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
      "us-east-1",
      new Date("2013-05-24T00:00:00Z"),
    );
    expect(headers["authorization"]).toBe(
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    );
  });
});

/** An in-memory S3 endpoint that answers the four calls the archive makes, the way RGW does. */
function fakeS3(initial?: { lock: string | null }) {
  let bucket: { lock: string | null } | undefined = initial;
  const calls: S3Request[] = [];
  const send = async (request: S3Request): Promise<S3Response> => {
    calls.push(request);
    const lockQuery = request.url.endsWith("?object-lock");
    if (request.method === "HEAD") return { status: bucket ? 200 : 404, body: "" };
    if (request.method === "PUT" && !lockQuery) {
      bucket = { lock: request.headers["x-amz-bucket-object-lock-enabled"] === "true" ? "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>" : null };
      return { status: 200, body: "" };
    }
    if (!bucket) return { status: 404, body: "NoSuchBucket" };
    if (request.method === "GET" && lockQuery) {
      return bucket.lock ? { status: 200, body: bucket.lock } : { status: 404, body: "ObjectLockConfigurationNotFoundError" };
    }
    if (request.method === "PUT" && lockQuery) {
      const md5 = createHash("md5").update(request.body).digest("base64");
      if (request.headers["content-md5"] !== md5) return { status: 400, body: "InvalidDigest" };
      if (!bucket.lock) return { status: 409, body: "InvalidBucketState" };
      bucket.lock = request.body;
      return { status: 200, body: "" };
    }
    return { status: 405, body: "MethodNotAllowed" };
  };
  return { send, calls, state: () => bucket };
}

describe("the archive bucket reconciler", () => {
  const spec: ArchiveBucketSpec = { endpoint: "https://s3.example.net/", bucket: "audit", region: "osl2", mode: "COMPLIANCE", days: 365 };
  const credentials = { accessKeyId: "AK", secretAccessKey: "SK" };

  it("creates the bucket with object lock and sets COMPLIANCE default retention, path-style and signed", async () => {
    const s3 = fakeS3();
    const result = await ensureObjectLockBucket(spec, credentials, s3.send);
    expect(result).toEqual({ created: true, state: { enabled: true, mode: "COMPLIANCE", days: 365 } });
    const create = s3.calls.find((c) => c.method === "PUT" && !c.url.includes("?"))!;
    expect(create.url).toBe("https://s3.example.net/audit");
    expect(create.headers["x-amz-bucket-object-lock-enabled"]).toBe("true");
    for (const call of s3.calls) expect(call.headers["authorization"]).toMatch(/^AWS4-HMAC-SHA256 Credential=AK\/\d{8}\/osl2\/s3\/aws4_request/);
    expect(parseObjectLockConfiguration(s3.state()!.lock!)).toEqual({ enabled: true, mode: "COMPLIANCE", days: 365 });
  });

  it("is idempotent: a second run changes nothing", async () => {
    const s3 = fakeS3();
    await ensureObjectLockBucket(spec, credentials, s3.send);
    const before = s3.calls.length;
    const again = await ensureObjectLockBucket(spec, credentials, s3.send);
    expect(again.created).toBe(false);
    expect(s3.calls.slice(before).filter((c) => c.method === "PUT")).toEqual([]);
  });

  it("extends the lock period but refuses to shorten it", async () => {
    const s3 = fakeS3({ lock: objectLockConfigurationXml("COMPLIANCE", 365) });
    await ensureObjectLockBucket({ ...spec, days: 400 }, credentials, s3.send);
    expect(parseObjectLockConfiguration(s3.state()!.lock!).days).toBe(400);
    await expect(ensureObjectLockBucket({ ...spec, days: 30 }, credentials, s3.send)).rejects.toThrow(/refusing to shorten that to 30/);
  });

  it("refuses to leave COMPLIANCE mode", async () => {
    const s3 = fakeS3({ lock: objectLockConfigurationXml("COMPLIANCE", 365) });
    await expect(ensureObjectLockBucket({ ...spec, mode: "GOVERNANCE" }, credentials, s3.send)).rejects.toThrow(/COMPLIANCE mode; refusing/);
  });

  it("refuses an existing bucket created without object lock", async () => {
    const s3 = fakeS3({ lock: "<ObjectLockConfiguration></ObjectLockConfiguration>" });
    await expect(ensureObjectLockBucket(spec, credentials, s3.send)).rejects.toThrow(/exists without object lock/);
  });

  it("reports the failing call and status, e.g. denied credentials", async () => {
    const denied = async (): Promise<S3Response> => ({ status: 403, body: "AccessDenied" });
    await expect(ensureObjectLockBucket(spec, credentials, denied)).rejects.toThrow(/HeadBucket of bucket "audit" .* HTTP 403: AccessDenied/);
  });

  it("writes the retention rule RGW expects", () => {
    expect(objectLockConfigurationXml("COMPLIANCE", 30)).toContain("<DefaultRetention><Mode>COMPLIANCE</Mode><Days>30</Days></DefaultRetention>");
    expect(() => objectLockConfigurationXml("COMPLIANCE", 0)).toThrow(/positive integer/);
  });
});

describe("Loki values", () => {
  it("keep audit logs for exactly the retention, enforced by the compactor, and allow no deletes", () => {
    const values = lokiValues({ retentionDays: 30, storageSize: "50Gi" });
    expect(values.loki.limits_config.retention_period).toBe("720h");
    expect(values.loki.compactor.retention_enabled).toBe(true);
    expect(values.loki.limits_config.deletion_mode).toBe("disabled");
    expect(retentionPeriod(7)).toBe("168h");
    expect(() => retentionPeriod(0)).toThrow(/retentionDays/);
  });
});

describe("audit config", () => {
  it("refuses a lock period shorter than the retention, naming the key", () => {
    const file = variantFile("test", (c) => {
      c["ske-platform:audit"].retentionDays = 30;
      c["ske-platform:audit"].lockDays = 29;
    });
    let error: unknown;
    try {
      loadPlatformConfig(readStackFile(file, "test"), readAddressPlan());
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([
      expect.objectContaining({ key: "ske-platform:audit.lockDays", message: expect.stringMatching(/at least the retention/) }),
    ]);
  });

  it("accepts equal periods", () => {
    const file = variantFile("test", (c) => {
      c["ske-platform:audit"].retentionDays = 30;
      c["ske-platform:audit"].lockDays = 30;
    });
    expect(loadPlatformConfig(readStackFile(file, "test"), readAddressPlan()).config.audit.lockDays).toBe(30);
  });
});

describe("the archive component", () => {
  it("refuses a lock shorter than the retention even if handed one directly", async () => {
    const stackFile = readStackFile(stackFilePath("test"), "test");
    await expect(runProgram({
      stackFile,
      entry: async () => {
        new AuditArchiveBucket("a", {
          endpoint: "https://s3.example.net", bucket: "b", region: "r", mode: "COMPLIANCE",
          lockDays: 10, retentionDays: 30, credentials: { accessKeyId: "x", secretAccessKey: "y" },
        });
        return {};
      },
    })).rejects.toThrow(/lock period 10d is shorter than the retention of 30d/);
  });
});

describe.each(STACKS)("the audit trail of %s under mocks", (stack) => {
  let run: GitOpsRun;
  const { plan, loaded } = loadStack(stack);
  const audit = loaded.config.audit;
  const ops = plan.clusters.find((c) => c.role === "ops")!;

  beforeAll(async () => {
    run = await runGitOps(stack);
  });

  it("reconciles an object-lock bucket in COMPLIANCE mode, locked at least as long as Loki keeps the logs", () => {
    const [bucket] = ofType(run.resources, COMMAND);
    expect(bucket!.inputs["triggers"]).toEqual([audit.archive.endpoint, audit.archive.bucket, "COMPLIANCE", audit.lockDays]);
    expect(audit.lockDays).toBeGreaterThanOrEqual(audit.retentionDays);
    expect(bucket!.secretPaths).toContain("environment");
    expect(bucket!.options.retainOnDelete).toBe(true);
    const { environment } = run.revealed(COMMAND, bucket!.name);
    expect(environment).toMatchObject({
      ARCHIVE_BUCKET: audit.archive.bucket,
      ARCHIVE_LOCK_MODE: "COMPLIANCE",
      ARCHIVE_LOCK_DAYS: String(audit.lockDays),
      ARCHIVE_ACCESS_KEY_ID: `FAKE-ACCESS-${stack}-${audit.archive.site}-audit-archive-s3`,
      ARCHIVE_SECRET_ACCESS_KEY: `FAKE-SECRET-${stack}-${audit.archive.site}-audit-archive-s3`,
    });
  });

  it("takes the S3 credential from the archive site's OpenStack provider", () => {
    const [ec2] = ofType(run.resources, "openstack:identity/ec2CredentialV3:Ec2CredentialV3");
    expect(providerOf(ec2!)).toBe(`${stack}-${audit.archive.site}-openstack`);
  });

  it("runs Loki in the ops cluster with the configured retention (30 days) and an ingest NodePort", () => {
    const loki = ofType(run.resources, RELEASE).filter((r) => r.inputs["chart"] === "loki");
    expect(loki).toHaveLength(1);
    expect(providerOf(loki[0]!)).toBe(`${ops.name}-k8s`);
    const values = loki[0]!.inputs["values"] as any;
    expect(values.loki.limits_config.retention_period).toBe(`${audit.retentionDays * 24}h`);
    expect(audit.retentionDays).toBe(30);
    expect(values.loki.compactor.retention_enabled).toBe(true);
    // The audit ingest, and the central view's platform ingest beside it.
    const ingest = ofType(run.resources, "kubernetes:core/v1:Service").filter((s) => (s.inputs["spec"] as any).type === "NodePort");
    expect(ingest.map((s) => (s.inputs["spec"] as any).ports[0].nodePort).sort()).toEqual([AUDIT_INGEST_PORT, PLATFORM_INGEST_PORT]);
  });

  it("runs one collector per cluster, on control-plane nodes, tailing the Talos audit log into Loki and the archive", () => {
    const collectors = ofType(run.resources, RELEASE).filter((r) => r.inputs["chart"] === "vector" && r.inputs["name"] === "audit-collector");
    expect(collectors.map(providerOf).sort()).toEqual(plan.clusters.map((c) => `${c.name}-k8s`).sort());
    for (const cluster of plan.clusters) {
      const release = collectors.find((r) => providerOf(r) === `${cluster.name}-k8s`)!;
      const values = release.inputs["values"] as any;
      expect(values.nodeSelector).toEqual({ "node-role.kubernetes.io/control-plane": "" });
      expect(values.customConfig.sources.apiserver_audit.include).toEqual([`${TALOS_AUDIT_LOG_DIR}/*.log`]);
      expect(TALOS_AUDIT_LOG_DIR).toBe("/var/log/audit/kube");
      const { loki, archive, siem } = values.customConfig.sinks;
      expect(loki.labels).toMatchObject({ cluster: cluster.name, environment: stack, site: cluster.site });
      expect(loki.endpoint).toBe(
        cluster.role === "ops"
          ? "http://loki-ingest-gateway.audit-logs.svc.cluster.local:8080"
          : `http://${new URL(fakeEndpoint(ops.name)).hostname}:${AUDIT_INGEST_PORT}`,
      );
      expect(archive).toMatchObject({ type: "aws_s3", bucket: audit.archive.bucket, endpoint: audit.archive.endpoint, key_prefix: `${cluster.name}/%Y/%m/%d/` });
      expect(archive.buffer.when_full).toBe("block");
      // Credentials are referenced from the environment, never inlined in the config.
      expect(JSON.stringify(values)).not.toContain("FAKE-SECRET");
      expect(siem).toBeUndefined();
    }
    const credentialSecrets = ofType(run.resources, "kubernetes:core/v1:Secret").filter((r) => r.name.endsWith("-archive-credentials"));
    expect(credentialSecrets).toHaveLength(plan.clusters.length);
    for (const secret of credentialSecrets) expect(secret.secretPaths).toContain("stringData");
  });
});

describe("SIEM forwarding", () => {
  it("adds an HTTP sink to the configured endpoint in every collector when audit.siem is set", async () => {
    const file = variantFile("test", (c) => {
      c["ske-platform:audit"].siem = { endpoint: "https://siem.example.net/ingest", format: "cef" };
    });
    const run = await runGitOps("test", () => ({}), file);
    const collectors = ofType(run.resources, RELEASE).filter((r) => r.inputs["chart"] === "vector" && r.inputs["name"] === "audit-collector");
    expect(collectors.length).toBeGreaterThan(0);
    for (const release of collectors) {
      const config = (release.inputs["values"] as any).customConfig;
      expect(config.sinks.siem).toMatchObject({ type: "http", uri: "https://siem.example.net/ingest", inputs: ["siem_cef"], encoding: { codec: "text" } });
      expect(config.transforms.siem_cef.source).toContain("CEF:0");
    }
  });

  it("sends JSON events unchanged in json format", () => {
    const config = collectorConfig({
      cluster: { name: "c", environment: "test", site: "s", role: "management" },
      lokiUrl: "http://loki:3100",
      archive: { endpoint: "https://s3", bucket: "b", region: "r" },
      siem: { endpoint: "https://siem", format: "json" },
    });
    expect(config.sinks["siem"]).toMatchObject({ inputs: ["audit_events"], encoding: { codec: "json" } });
    expect(config.transforms["siem_cef"]).toBeUndefined();
  });
});
