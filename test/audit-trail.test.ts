import * as fs from "node:fs";
import * as path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { AuditArchiveBucket, collectorConfig, lokiValues, retentionPeriod } from "../components/audit-trail";
import { ConfigError, REPO_ROOT, loadPlatformConfig, readAddressPlan } from "../config/load";
import { AUDIT_INGEST_PORT } from "../stacks/gitops";
import { PLATFORM_INGEST_PORT } from "../plan/security-rules";
import { runProgram, type RecordedResource } from "../synth/mock-runtime";
import { readStackFile } from "../config/stack-file";
import { fakeEndpoint, loadStack, runGitOps, type GitOpsRun } from "./support/gitops-fixture";
import { STACKS, ofType, stackFilePath, variantFile } from "./support/stacks";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const COMMAND = "command:local:Command";
const providerOf = (r: RecordedResource) => r.provider?.split("::")[3];

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
      expect.objectContaining({
        key: "ske-platform:audit.lockDays",
        message: expect.stringMatching(/at least the retention/),
      }),
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
    await expect(
      runProgram({
        stackFile,
        entry: () => {
          new AuditArchiveBucket("a", {
            endpoint: "https://s3.example.net",
            bucket: "b",
            region: "r",
            mode: "COMPLIANCE",
            lockDays: 10,
            retentionDays: 30,
            credentials: { accessKeyId: "x", secretAccessKey: "y" },
            writers: [{ cluster: "test-osl2-ops", projectId: "9d3a61c24b7e4f1a8c256e0f3b2a9d01" }],
            foreignProjectIds: ["9f3c1a7e2b5d4c6e8a0b1c2d3e4f5001"],
          });
          return Promise.resolve({});
        },
      }),
    ).rejects.toThrow(/lock period 10d is shorter than the retention of 30d/);
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

  it("reconciles an object-lock bucket in COMPLIANCE mode with the configured lock period, with plain node and a committed script", () => {
    const [bucket] = ofType(run.resources, COMMAND);
    expect((bucket!.inputs["triggers"] as unknown[]).slice(0, 4)).toEqual([
      audit.archive.endpoint,
      audit.archive.bucket,
      "COMPLIANCE",
      audit.lockDays,
    ]);
    // Deploy time has no devDependencies: the reconciler must run on node alone, from a file in the repository.
    const [runtime, script, mode] = String(bucket!.inputs["create"]).split(" ");
    expect([runtime, mode]).toEqual(["node", "reconcile"]);
    expect(fs.existsSync(path.join(REPO_ROOT, script!))).toBe(true);
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

  it("runs Loki in the ops cluster with the configured retention and an ingest NodePort", () => {
    const loki = ofType(run.resources, RELEASE).filter((r) => r.inputs["chart"] === "loki");
    expect(loki).toHaveLength(1);
    expect(providerOf(loki[0]!)).toBe(`${ops.name}-k8s`);
    const values = loki[0]!.inputs["values"] as any;
    expect(values.loki.limits_config.retention_period).toBe(`${audit.retentionDays * 24}h`);
    expect(values.loki.compactor.retention_enabled).toBe(true);
    // The audit ingest, and the central view's platform ingest beside it.
    const ingest = ofType(run.resources, "kubernetes:core/v1:Service").filter(
      (s) => (s.inputs["spec"] as any).type === "NodePort",
    );
    expect(ingest.map((s) => (s.inputs["spec"] as any).ports[0].nodePort).sort()).toEqual([
      AUDIT_INGEST_PORT,
      PLATFORM_INGEST_PORT,
    ]);
  });

  it("runs one collector per cluster, on control-plane nodes, tailing the Talos audit log into Loki and the archive", () => {
    const collectors = ofType(run.resources, RELEASE).filter(
      (r) => r.inputs["chart"] === "vector" && r.inputs["name"] === "audit-collector",
    );
    expect(collectors.map(providerOf).sort()).toEqual(plan.clusters.map((c) => `${c.name}-k8s`).sort());
    for (const cluster of plan.clusters) {
      const release = collectors.find((r) => providerOf(r) === `${cluster.name}-k8s`)!;
      const values = release.inputs["values"] as any;
      expect(values.nodeSelector).toEqual({ "node-role.kubernetes.io/control-plane": "" });
      // Where Talos writes the apiserver's audit log; the collector mounts that directory and nothing else.
      expect(values.customConfig.sources.apiserver_audit.include).toEqual(["/var/log/audit/kube/*.log"]);
      expect(values.extraVolumes[0].hostPath.path).toBe("/var/log/audit/kube");
      const { loki, archive, siem } = values.customConfig.sinks;
      expect(loki.labels).toMatchObject({ cluster: cluster.name, environment: stack, site: cluster.site });
      expect(loki.endpoint).toBe(
        cluster.role === "ops"
          ? "https://loki-ingest-gateway.audit-logs.svc.cluster.local:8443"
          : `https://${new URL(fakeEndpoint(ops.name)).hostname}:${AUDIT_INGEST_PORT}`,
      );
      expect(archive).toMatchObject({
        type: "aws_s3",
        bucket: audit.archive.bucket,
        endpoint: audit.archive.endpoint,
        key_prefix: `${cluster.name}/%Y/%m/%d/`,
      });
      expect(archive.buffer.when_full).toBe("block");
      // Credentials are referenced from the environment, never inlined in the config.
      expect(JSON.stringify(values)).not.toContain("FAKE-SECRET");
      expect(siem).toBeUndefined();
    }
    const credentialSecrets = ofType(run.resources, "kubernetes:core/v1:Secret").filter((r) =>
      r.name.endsWith("-archive-credentials"),
    );
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
    const collectors = ofType(run.resources, RELEASE).filter(
      (r) => r.inputs["chart"] === "vector" && r.inputs["name"] === "audit-collector",
    );
    expect(collectors.length).toBeGreaterThan(0);
    for (const release of collectors) {
      const config = (release.inputs["values"] as any).customConfig;
      expect(config.sinks.siem).toMatchObject({
        type: "http",
        uri: "https://siem.example.net/ingest",
        inputs: ["siem_cef"],
        encoding: { codec: "text" },
      });
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
