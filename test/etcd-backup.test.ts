import { describe, expect, it } from "vitest";
import { ConfigError, loadPlatformConfig, readAddressPlan, type ConfigProblem } from "../config/load";
import { readProjectPlan } from "../config/projects";
import { grantsOutside } from "../plan/bucket-policy";
import { BACKUP_NAMESPACE, TALOS_BACKUP_ROLE, WRITER_DENIED_ACTIONS, backupBucketPolicy, backupNetworkPolicySpec, writerPrincipal, writerProblems } from "../plan/etcd-backup";
import { foreignProjects } from "../plan/project-plan";
import { ETCD_BACKUP_RESOURCES } from "../plan/workload-resources";
import { etcdBackedUp } from "../policy/backup-controls";
import { LIFECYCLE_RULE_ID, ensureExpiry, expiryLifecycleXml, parseExpiryDays } from "../components/etcd-backup/lifecycle";
import type { S3Request, S3Response } from "../components/audit-trail/object-lock";
import { createHash } from "node:crypto";
import { policyContext } from "../policy/context";
import { evaluatePolicies } from "../policy/evaluate";
import type { PolicyContext, PolicyResource } from "../policy/model";
import { fakeState } from "../synth/fake-state";
import { runProgram } from "../synth/mock-runtime";
import { policyResources } from "../synth/policy-input";
import { readStackFile } from "../synth/stack-file";
import { synthesize } from "../synth";
import { controlPlaneConfig, workerConfig } from "../components/talos/machine-config";
import { clusterConfigInput, fakeMachineSecrets } from "./support/talos-fixtures";
import { STACKS, ofType, stackFilePath, synthOk, variantFile } from "./support/stacks";
import { within } from "./support/timed";

const projects = readProjectPlan();
const prodOsl2 = projects.environments.production.osl2!.id;
const foreignOfProduction = foreignProjects(projects, "production").map((p) => p.project.id);
const BUCKET = "ske-production-osl2-etcd-backups";
const OPS = { cluster: "production-osl2-ops", projectId: prodOsl2 };
const MGMT = { cluster: "production-osl2-mgmt", projectId: prodOsl2 };

describe("the backup bucket's policy", () => {
  const doc = backupBucketPolicy(BUCKET, foreignOfProduction, [OPS, MGMT]);

  it("lets each cluster's writer put under its own prefix only, and grants nothing outside the environment", () => {
    const allows = doc.Statement.filter((s) => s.Effect === "Allow");
    expect(allows).toEqual([
      { Sid: "PutOwnPrefixproductionosl2ops", Effect: "Allow", Principal: { AWS: writerPrincipal(prodOsl2, OPS.cluster) }, Action: "s3:PutObject", Resource: `arn:aws:s3:::${BUCKET}/production-osl2-ops/*` },
      { Sid: "PutOwnPrefixproductionosl2mgmt", Effect: "Allow", Principal: { AWS: writerPrincipal(prodOsl2, MGMT.cluster) }, Action: "s3:PutObject", Resource: `arn:aws:s3:::${BUCKET}/production-osl2-mgmt/*` },
    ]);
    expect(grantsOutside(doc, [prodOsl2])).toEqual([]);
    expect(writerProblems(doc, BUCKET, OPS)).toEqual([]);
    expect(writerProblems(doc, BUCKET, MGMT)).toEqual([]);
  });

  it("denies each writer deletion, reading, retention and the bucket's settings explicitly, and puts outside its prefix", () => {
    const denies = doc.Statement.filter((s) => s.Effect === "Deny" && JSON.stringify(s.Principal).includes(OPS.cluster));
    expect(denies.flatMap((s) => [s.Action].flat())).toEqual(expect.arrayContaining(["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion", "s3:PutBucketPolicy", "s3:PutLifecycleConfiguration", "s3:PutBucketObjectLockConfiguration", "s3:BypassGovernanceRetention", "s3:GetObject"]));
    expect(denies.find((s) => s.Action === "s3:PutObject")).toMatchObject({ NotResource: `arn:aws:s3:::${BUCKET}/production-osl2-ops/*` });
    expect([...WRITER_DENIED_ACTIONS]).not.toContain("s3:PutObject");
  });

  it("finds a writer that may delete, read, act beyond its prefix, is reached through its whole project, or lacks the explicit Deny", () => {
    const edit = (change: (d: ReturnType<typeof backupBucketPolicy>) => void) => {
      const copy = structuredClone(doc);
      change(copy);
      return writerProblems(copy, BUCKET, OPS);
    };
    expect(edit((d) => { d.Statement[1]!.Action = ["s3:PutObject", "s3:DeleteObject"]; })).toContain("production-osl2-ops's writer is allowed s3:DeleteObject (s3:DeleteObject)");
    expect(edit((d) => { d.Statement[1]!.Action = "s3:*"; }).join()).toContain("is allowed s3:* (s3:DeleteObject, s3:DeleteObjectVersion");
    expect(edit((d) => { (d.Statement[1] as { Resource: string }).Resource = `arn:aws:s3:::${BUCKET}/*`; }).join()).toContain("outside arn:aws:s3:::ske-production-osl2-etcd-backups/production-osl2-ops/*");
    expect(edit((d) => { d.Statement.push({ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${prodOsl2}:root` }, Action: "s3:GetObject", Resource: `arn:aws:s3:::${BUCKET}/*` }); }).join()).toContain("allowed s3:GetObject");
    expect(edit((d) => { d.Statement = d.Statement.filter((s) => s.Sid !== "DenyEverythingElseproductionosl2ops"); }).join()).toContain("is not explicitly denied s3:DeleteObject");
    expect(edit((d) => { d.Statement = d.Statement.filter((s) => s.Sid !== "PutOwnPrefixproductionosl2ops"); })).toContain("production-osl2-ops's writer is granted no s3:PutObject, so no snapshot can be written");
  });
});

const hasTalosRole = (certOrg: unknown) => certOrg === TALOS_BACKUP_ROLE;

describe("the backup's Talos certificate is least privilege only while Talos enforces roles", () => {
  it("every machine config keeps Talos API RBAC on; without it an os:etcd:backup certificate would be os:admin", () => {
    for (const build of [controlPlaneConfig, workerConfig]) {
      expect(build(clusterConfigInput(), fakeMachineSecrets).machine.features.rbac).toBe(true);
    }
  });
});

describe.each(STACKS)("%s: every cluster is backed up", (stack) => {
  it("by a CronJob on a control-plane node that snapshots through talosctl and uploads, under pod security restricted, with requests and limits", async () => {
    const result = await synthOk(stack);
    const clusters = ofType(result.resources, "ske:cluster:Cluster").map((c) => c.name);
    expect(clusters.length).toBeGreaterThan(0);
    for (const cluster of clusters) {
      const [job] = ofType(result.resources, "kubernetes:batch/v1:CronJob").filter((j) => j.name === `${cluster}-etcd-backup-cronjob`);
      expect(job, cluster).toBeDefined();
      const spec = job!.inputs.spec as any;
      expect(spec.schedule).toBe("17 */6 * * *");
      expect(spec.concurrencyPolicy).toBe("Forbid");
      const pod = spec.jobTemplate.spec.template.spec;
      expect(pod.nodeSelector).toEqual({ "node-role.kubernetes.io/control-plane": "" });
      expect(pod.automountServiceAccountToken).toBe(false);
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
      const [snapshot] = pod.initContainers;
      expect(snapshot.image).toMatch(/^ghcr\.io\/siderolabs\/talosctl:v1\.11\.\d+$/);
      expect(snapshot.args.join(" ")).toBe("--talosconfig /var/run/secrets/talos/config --endpoints $(NODE_IP) --nodes $(NODE_IP) etcd snapshot /snapshot/etcd.db");
      const [upload] = pod.containers;
      expect(upload.command).toEqual(["node", "/opt/etcd-backup/etcd-backup.mjs", "upload"]);
      const env = Object.fromEntries(upload.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
      expect(env.BACKUP_CLUSTER).toBe(cluster);
      expect(env.BACKUP_PREFIX).toBe(`${cluster}/`);
      // Credentials come from the Secret, never as values in the pod spec.
      expect(env.BACKUP_SECRET_ACCESS_KEY).toEqual({ secretKeyRef: { name: "etcd-backup-credentials", key: "s3-secret-access-key" } });
      for (const container of [snapshot, upload]) {
        expect(container.securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, runAsNonRoot: true, capabilities: { drop: ["ALL"] }, seccompProfile: { type: "RuntimeDefault" } });
      }
      expect(snapshot.resources).toEqual(ETCD_BACKUP_RESOURCES.snapshot);
      expect(upload.resources).toEqual(ETCD_BACKUP_RESOURCES.upload);
      const [namespace] = ofType(result.resources, "kubernetes:core/v1:Namespace").filter((n) => n.name === `${cluster}-etcd-backup-namespace`);
      expect((namespace!.inputs.metadata as any).labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      expect((namespace!.inputs.metadata as any).name).toBe(BACKUP_NAMESPACE);
    }
    // Every existing policy still passes with the CronJob in place (resources, admission guard, metadata block...).
    expect(result.compliance.failedControls).toEqual([]);
    expect(result.compliance.results.find((r) => r.name === "etcd-backups-put-only")!.status).toBe("pass");
  });

  it("with a Talos client that may only snapshot, a writer of its own in the site's project, and secrets kept secret", async () => {
    const result = await synthOk(stack);
    const env = result.environment as keyof typeof projects.environments;
    for (const cluster of ofType(result.resources, "ske:cluster:Cluster").map((c) => c.name)) {
      const [csr] = ofType(result.resources, "tls:index/certRequest:CertRequest").filter((c) => c.name === `${cluster}-etcd-backup-talos-csr`);
      expect(hasTalosRole((csr!.inputs.subject as any).organization)).toBe(true);
      const [user] = ofType(result.resources, "openstack:identity/user:User").filter((u) => u.name === `${cluster}-etcd-backup-writer`);
      const [credential] = ofType(result.resources, "openstack:identity/ec2CredentialV3:Ec2CredentialV3").filter((c) => c.name === `${cluster}-etcd-backup-writer-s3`);
      const site = cluster.split("-")[1]!;
      expect(user!.inputs).toMatchObject({ name: `${cluster}-etcd-backup`, defaultProjectId: projects.environments[env][site]!.id });
      expect(credential!.inputs).toMatchObject({ userId: `${cluster}-etcd-backup-writer_id`, projectId: projects.environments[env][site]!.id });
      const [role] = ofType(result.resources, "openstack:identity/roleAssignment:RoleAssignment").filter((r) => r.name === `${cluster}-etcd-backup-writer-role`);
      expect(role!.inputs).toMatchObject({ userId: `${cluster}-etcd-backup-writer_id`, roleId: "synth-fake-role-member" });
      const [secret] = ofType(result.resources, "kubernetes:core/v1:Secret").filter((s) => s.name === `${cluster}-etcd-backup-credentials`);
      expect(secret!.secretPaths).toEqual(expect.arrayContaining(["stringData"]));
      // The CronJob's ConfigMap carries the public key only.
      const [script] = ofType(result.resources, "kubernetes:core/v1:ConfigMap").filter((s) => s.name === `${cluster}-etcd-backup-script`);
      expect(String((script!.inputs.data as any)["recipient.pem"])).toContain("BEGIN PUBLIC KEY");
      expect(JSON.stringify(script!.inputs)).not.toContain("PRIVATE KEY");
      expect(result.secretOutputPaths).toContain(`backups.clusters.${cluster}.decryptionKeyPem`);
    }
  });

  it("to its site's bucket, made with a COMPLIANCE lock and the put-only policy by the archive's own reconciler, as compliance.md shows", async () => {
    const result = await synthOk(stack);
    const buckets = ofType(result.resources, "command:local:Command").filter((c) => c.name.endsWith("-etcd-backups-object-lock-bucket"));
    expect(buckets.length).toBe(result.sites.length);
    for (const command of buckets) {
      expect(command.inputs.create).toBe("npx --no-install tsx scripts/audit-archive-bucket.ts");
      const [, bucket, lockDays, policy] = command.inputs.triggers as [string, string, number, string];
      expect(lockDays).toBe(14);
      const doc = JSON.parse(policy);
      expect(doc.Statement[0]).toMatchObject({ Sid: "DenyOtherEnvironments", Effect: "Deny", Action: "s3:*" });
      expect(result.compliance.report).toMatch(new RegExp(`\\| [a-z0-9-]+ \\| \`17 \\*/6 \\* \\* \\*\` UTC \\| https://[^|]+/${bucket}/[a-z0-9-]+/ \\| COMPLIANCE 14 days; expire after 14 days \\| put only, under [a-z0-9-]+/; delete, read and bucket settings denied \\|`));
    }
    expect(result.compliance.results.find((r) => r.name === "object-storage-in-environment")!.status).toBe("pass");
  });
});

async function program(): Promise<unknown> {
  const mod = (await import("../stacks/index.js")) as unknown as { default?: () => Promise<unknown> };
  return (mod.default ?? (mod as unknown as () => Promise<unknown>))();
}

/** The policy's view of a real run of the program on a stack file, secrets revealed as CrossGuard reveals them. */
async function policyView(stack: string, file = stackFilePath(stack)): Promise<{ resources: PolicyResource[]; ctx: PolicyContext }> {
  const stackFile = readStackFile(file, stack);
  const revealed = new Map<string, Record<string, unknown>>();
  process.env.SKE_CONFIG_FILE = stackFile.file;
  try {
    const run = await within(runProgram({
      stackFile,
      entry: program,
      fakeState: (type, name, inputs) => {
        revealed.set(`${type}::${name}`, inputs);
        return fakeState(type, name, inputs);
      },
    }), 30_000, "program");
    const { config, addressPlan } = loadPlatformConfig(stackFile, readAddressPlan());
    return { resources: policyResources(run.resources, revealed, stack), ctx: policyContext(config, addressPlan) };
  } finally {
    delete process.env.SKE_CONFIG_FILE;
  }
}

describe("policy etcd-backups-put-only", () => {
  const judge = (resources: PolicyResource[], ctx: PolicyContext) => etcdBackedUp.validate({ resources, outputs: [] }, ctx).map((v) => v.message);
  const edit = (resources: PolicyResource[], name: string, change: (r: PolicyResource) => void) =>
    resources.map((r) => {
      if (r.name !== name) return r;
      const copy = structuredClone(r);
      change(copy);
      return copy;
    });

  it("fails a cluster whose backup writer may delete, or which writes with the deploy identity's own credential", async () => {
    const { resources, ctx } = await policyView("production");
    expect(judge(resources, ctx)).toEqual([]);

    const canDelete = edit(resources, "production-osl2-etcd-backups-object-lock-bucket", (r) => {
      const env = r.props.environment as Record<string, string>;
      const doc = JSON.parse(env.ARCHIVE_BUCKET_POLICY!);
      doc.Statement.find((s: any) => s.Sid === "PutOwnPrefixproductionosl2ops").Action = ["s3:PutObject", "s3:DeleteObject"];
      doc.Statement = doc.Statement.filter((s: any) => s.Sid !== "DenyEverythingElseproductionosl2ops");
      env.ARCHIVE_BUCKET_POLICY = JSON.stringify(doc);
    });
    expect(judge(canDelete, ctx)).toEqual([
      "production-osl2-ops's writer is allowed s3:DeleteObject (s3:DeleteObject)",
      "production-osl2-ops's writer is not explicitly denied s3:DeleteObject, s3:DeleteObjectVersion, s3:DeleteBucket, s3:PutBucketPolicy, s3:PutLifecycleConfiguration, s3:PutBucketObjectLockConfiguration, s3:BypassGovernanceRetention, s3:GetObject",
    ]);

    const deployIdentity = edit(resources, "production-sto2-mgmt-etcd-backup-writer-s3", (r) => { delete r.props.userId; });
    expect(judge(deployIdentity, ctx)).toEqual(["production-sto2-mgmt: the backup credential is the deploy identity's own (no userId), which owns the bucket and can delete"]);

    const governance = edit(resources, "production-sto2-etcd-backups-object-lock-bucket", (r) => { (r.props.environment as Record<string, string>).ARCHIVE_LOCK_MODE = "GOVERNANCE"; });
    expect(judge(governance, ctx)).toEqual(["bucket ske-production-sto2-etcd-backups: object lock is GOVERNANCE, not COMPLIANCE: the bucket owner could delete snapshots"]);

    const early = edit(resources, "production-sto2-etcd-backups-object-lock-bucket", (r) => { (r.props.environment as Record<string, string>).ARCHIVE_EXPIRE_DAYS = "3"; });
    expect(judge(early, ctx)).toEqual(["bucket ske-production-sto2-etcd-backups: snapshots would expire after 3 days, before their lock ends"]);

    const noCronJob = resources.filter((r) => r.name !== "production-osl2-mgmt-etcd-backup-cronjob");
    expect(judge(noCronJob, ctx)).toEqual(["production-osl2-mgmt has no etcd backup CronJob"]);
  });

  it("fails a test stack whose site has no backup storage, and compliance.md says FAIL for 6.2", async () => {
    const file = variantFile("test", (c) => { delete c["ske-platform:backups"]; });
    const result = await within(synthesize({ stack: "test", configFile: file }), 30_000, "synth");
    if (!result.ok) throw new Error(result.error);
    const run = result.compliance.results.find((r) => r.name === "etcd-backups-put-only")!;
    expect(run.status).toBe("fail");
    expect(run.violations.map((v) => v.message)).toEqual(["test-osl2-mgmt has no etcd backup CronJob", "test-osl2-ops has no etcd backup CronJob"]);
    expect(result.compliance.failedControls).toContain("6.2");
    expect(result.compliance.report).toContain("**Verdict: FAIL.**");
    expect(result.compliance.report).toContain("_(no etcd backup in this stack)_");
  });

  it("runs in the policy pack with every other policy", async () => {
    const { resources, ctx } = await policyView("staging");
    const results = evaluatePolicies({ resources, outputs: [] }, ctx);
    expect(results.find((r) => r.name === "etcd-backups-put-only")).toMatchObject({ status: "pass", control: "6.2", enforcement: "mandatory" });
  });
});

describe("config", () => {
  const problemsOf = (stack: string, edit: (c: Record<string, any>) => void): ConfigProblem[] => {
    const file = variantFile(stack, edit);
    try {
      loadPlatformConfig(readStackFile(file, stack), readAddressPlan());
    } catch (err) {
      if (err instanceof ConfigError) return err.problems;
      throw err;
    }
    return [];
  };

  it.each(["production", "staging"])("%s refuses to run without backups, naming the key and the file", (stack) => {
    expect(problemsOf(stack, (c) => { delete c["ske-platform:backups"]; })).toEqual([
      { file: `Pulumi.${stack}.yaml`, key: "ske-platform:backups", message: `${stack} keeps etcd backups on: declare backups.sites.<site> (endpoint, bucket) for osl2, sto2` },
    ]);
  });

  it("refuses a schedule cron cannot read, a lock longer than a year and a credential in the endpoint", () => {
    const problems = problemsOf("test", (c) => {
      c["ske-platform:backups"].schedule = "every 6 hours";
      c["ske-platform:backups"].lockDays = 400;
      c["ske-platform:backups"].sites.osl2.endpoint = "https://key:secret@s3.osl2.ske.example.net";
    });
    expect(problems.map((p) => p.key)).toEqual(expect.arrayContaining(["ske-platform:backups.schedule", "ske-platform:backups.lockDays", "ske-platform:backups.sites.osl2.endpoint"]));
    expect(problems.find((p) => p.key === "ske-platform:backups.schedule")!.message).toContain("five-field cron schedule");
  });
});

describe("the backup bucket's lifecycle", () => {
  /** GetBucketLifecycleConfiguration and PutBucketLifecycleConfiguration, as RGW answers them. */
  function lifecycleS3(initial?: string) {
    let lifecycle = initial;
    const calls: S3Request[] = [];
    const send = async (request: S3Request): Promise<S3Response> => {
      calls.push(request);
      if (!request.url.endsWith("?lifecycle")) return { status: 405, body: "MethodNotAllowed" };
      if (request.method === "GET") return lifecycle ? { status: 200, body: lifecycle } : { status: 404, body: "NoSuchLifecycleConfiguration" };
      if (request.headers["content-md5"] !== createHash("md5").update(request.body).digest("base64")) return { status: 400, body: "InvalidDigest" };
      lifecycle = request.body;
      return { status: 200, body: "" };
    };
    return { send, calls, state: () => lifecycle };
  }
  const spec = { endpoint: "https://s3.osl2.ske.example.net", bucket: BUCKET, region: "osl2", days: 14 };
  const credentials = { accessKeyId: "OWNER", secretAccessKey: "owner-secret" };

  it("expires snapshots when their lock ends and removes the locked version a day later, signed, once", async () => {
    const s3 = lifecycleS3();
    expect(await ensureExpiry(spec, 14, credentials, s3.send)).toEqual({ changed: true });
    expect(s3.calls.map((c) => c.method)).toEqual(["GET", "PUT", "GET"]);
    expect(s3.calls[1]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=OWNER\/\d{8}\/osl2\/s3\/aws4_request/);
    expect(s3.state()).toBe(expiryLifecycleXml(14));
    expect(s3.state()).toContain("<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>");
    expect(parseExpiryDays(s3.state()!)).toBe(14);
    expect(await ensureExpiry(spec, 14, credentials, s3.send)).toEqual({ changed: false });
    expect(s3.calls).toHaveLength(4);
  });

  it("refuses to expire snapshots before their lock ends, and reads a disabled rule as none", async () => {
    await expect(ensureExpiry(spec, 7, credentials, lifecycleS3().send)).rejects.toThrow(`bucket "${BUCKET}": snapshots would expire after 7 days, before their 14-day lock ends`);
    expect(parseExpiryDays(expiryLifecycleXml(14).replace("Enabled", "Disabled"))).toBeUndefined();
    expect(parseExpiryDays(expiryLifecycleXml(14).replace(LIFECYCLE_RULE_ID, "someone-elses-rule"))).toBeUndefined();
  });

  it("is set on every backup bucket with the lock period, and never on the audit archive", async () => {
    const { resources } = await policyView("production");
    const commands = resources.filter((r) => r.type === "command:local:Command" && r.name.endsWith("-object-lock-bucket"));
    const expiry = Object.fromEntries(commands.map((c) => [c.name, (c.props.environment as Record<string, string>).ARCHIVE_EXPIRE_DAYS]));
    expect(expiry).toEqual({
      "production-audit-archive-object-lock-bucket": undefined,
      "production-osl2-etcd-backups-object-lock-bucket": "14",
      "production-sto2-etcd-backups-object-lock-bucket": "14",
    });
  });
});

describe("the backup pods' network", () => {
  const spec = backupNetworkPolicySpec({ controlPlaneAddresses: ["10.32.0.21", "10.32.0.22"], endpoint: "https://s3.osl2.example.net" });

  it("admits nothing in, and lets out only DNS, the control planes' Talos API and the bucket's port", () => {
    expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(spec.ingress).toEqual([]);
    expect(spec.egress.map((rule) => rule.ports.map((p) => `${p.protocol}/${p.port}`).join(" "))).toEqual(["UDP/53 TCP/53", "TCP/50000", "TCP/443"]);
    expect(spec.egress[1]!.to).toEqual([{ ipBlock: { cidr: "10.32.0.21/32" } }, { ipBlock: { cidr: "10.32.0.22/32" } }]);
  });

  it("never reaches the metadata service, whose user data holds every CA key", () => {
    for (const rule of spec.egress) {
      for (const peer of rule.to) {
        const block = (peer as { ipBlock?: { cidr: string; except?: string[] } }).ipBlock;
        if (block?.cidr === "0.0.0.0/0") expect(block.except).toContain("169.254.169.254/32");
      }
    }
  });
});
