import type { AddressInfo } from "node:net";
import * as pulumi from "@pulumi/pulumi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadPlatformConfig, readAddressPlan } from "../config/load";
import { readProjectPlan } from "../config/projects";
import {
  WRITER_DENIED_ACTIONS,
  archiveBucketPolicy,
  grantsOutside,
  projectPrincipal,
  type BucketPolicyStatement,
} from "../plan/bucket-policy";
import { BACKUP_NAMESPACE, TALOS_BACKUP_ROLE, backupNetworkPolicySpec } from "../plan/etcd-backup";
import { foreignProjects } from "../plan/project-plan";
import { ETCD_BACKUP_RESOURCES } from "../plan/workload-resources";
import { etcdBackedUp } from "../policy/backup-controls";
import {
  ARCHIVE_RECONCILE_COMMAND,
  ARCHIVE_VERIFY_COMMAND,
  policyDenials,
  policyGrants,
  policyProblems,
  type ArchiveBucketSpec,
} from "../components/audit-trail";
import { archiveClient, ensureArchiveBucket, verifyArchiveBucket } from "../scripts/object-lock-bucket";
import { EtcdBackupBucket } from "../components/etcd-backup";
import { policyContext } from "../policy/context";
import { evaluatePolicies } from "../policy/evaluate";
import type { PolicyContext, PolicyResource } from "../policy/model";
import { policyResources } from "../synth/policy-input";
import { readStackFile } from "../config/stack-file";
import { synthesize } from "../synth";
import { controlPlaneConfig, workerConfig } from "../components/talos/machine-config";
import { clusterConfigInput, fakeMachineSecrets } from "./support/talos-fixtures";
import { fakeRgw } from "./support/fake-rgw";
import { ROOT, STACKS, ofType, stackFilePath, synthOk, variantFile } from "./support/stacks";
import { configProblemsOf } from "./support/config-problems";
import { committedOwnership, foreignProjectIdsOf } from "../config/cross-stack";
import type { EnvironmentName } from "../plan/address-plan";
import { editedResource, revealedProgramRun } from "./support/program-run";
import { within } from "./support/timed";

const projects = readProjectPlan();
const prodOsl2 = projects.environments.production.osl2!.id;
const foreignOfProduction = foreignProjects(projects, "production").map((p) => p.project.id);
const BUCKET = "ske-production-osl2-etcd-backups";
/** The backup writer projects the committed production stack names. */
const backupWriters = (stack: string) =>
  loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan()).config.backups!.writerProjects;
const OPS = { cluster: "production-osl2-ops", projectId: backupWriters("production")["production-osl2-ops"]! };
const MGMT = { cluster: "production-osl2-mgmt", projectId: backupWriters("production")["production-osl2-mgmt"]! };

describe("the backup bucket's policy", () => {
  const doc = archiveBucketPolicy(BUCKET, [OPS, MGMT], foreignOfProduction);
  const judge = (document: unknown) => {
    const json = JSON.stringify(document);
    return policyProblems(
      { bucket: BUCKET, writers: [OPS, MGMT], foreignProjectIds: foreignOfProduction },
      policyGrants(json),
      policyDenials(json),
    );
  };

  it("lets each cluster's writer put under its own prefix only, and grants nothing outside the environment", () => {
    const allows = doc.Statement.filter((s) => s.Effect === "Allow");
    expect(allows).toEqual([
      {
        Sid: "put-production-osl2-ops",
        Effect: "Allow",
        Principal: { AWS: [projectPrincipal(OPS.projectId)] },
        Action: ["s3:PutObject"],
        Resource: [`arn:aws:s3:::${BUCKET}/production-osl2-ops/*`],
      },
      {
        Sid: "put-production-osl2-mgmt",
        Effect: "Allow",
        Principal: { AWS: [projectPrincipal(MGMT.projectId)] },
        Action: ["s3:PutObject"],
        Resource: [`arn:aws:s3:::${BUCKET}/production-osl2-mgmt/*`],
      },
    ]);
    // The writers are projects of their own, never the bucket owner's (the site's environment project).
    expect([OPS.projectId, MGMT.projectId]).not.toContain(prodOsl2);
    expect(grantsOutside(doc, [prodOsl2, OPS.projectId, MGMT.projectId])).toEqual([]);
    expect(judge(doc)).toEqual([]);
  });

  it("denies each writer deletion, reading, retention and the bucket's settings explicitly, and puts outside its prefix", () => {
    const denies = doc.Statement.filter(
      (s) => s.Effect === "Deny" && JSON.stringify(s.Principal).includes(projectPrincipal(OPS.projectId)),
    );
    expect(denies.flatMap((s) => [s.Action].flat())).toEqual(
      expect.arrayContaining([
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutBucketPolicy",
        "s3:PutLifecycleConfiguration",
        "s3:PutBucketObjectLockConfiguration",
        "s3:BypassGovernanceRetention",
        "s3:GetObject",
        "s3:ListBucket",
      ]),
    );
    expect(denies.find((s) => JSON.stringify(s.Action) === JSON.stringify(["s3:PutObject"]))).toMatchObject({
      NotResource: [`arn:aws:s3:::${BUCKET}/production-osl2-ops/*`],
    });
    expect([...WRITER_DENIED_ACTIONS]).not.toContain("s3:PutObject");
  });

  it("finds a writer that may delete, read, act beyond its prefix, is reached through its whole project, or lacks the explicit Deny", () => {
    const edit = (change: (d: { Statement: BucketPolicyStatement[] }) => void) => {
      const copy = structuredClone(doc);
      change(copy);
      return judge(copy);
    };
    const put = (d: { Statement: BucketPolicyStatement[] }) =>
      d.Statement.find((s) => s.Sid === "put-production-osl2-ops")!;
    expect(
      edit((d) => {
        put(d).Action = ["s3:PutObject", "s3:DeleteObject"];
      }),
    ).toEqual(["the writer of production-osl2-ops is granted s3:DeleteObject"]);
    expect(
      edit((d) => {
        put(d).Action = "s3:*";
      }),
    ).toEqual(["the writer of production-osl2-ops is granted s3:*"]);
    expect(
      edit((d) => {
        put(d).Resource = `arn:aws:s3:::${BUCKET}/*`;
      }),
    ).toEqual([`the writer of production-osl2-ops may write to arn:aws:s3:::${BUCKET}/*`]);
    expect(
      edit((d) => {
        delete put(d).Resource;
        put(d).NotResource = `arn:aws:s3:::${BUCKET}/production-osl2-mgmt/*`;
      }),
    ).toEqual([
      `the writer of production-osl2-ops may write to everything but arn:aws:s3:::${BUCKET}/production-osl2-mgmt/*`,
    ]);
    expect(
      edit((d) => {
        d.Statement.push({
          Effect: "Allow",
          Principal: { AWS: `arn:aws:iam::${prodOsl2}:root` },
          Action: "s3:GetObject",
          Resource: `arn:aws:s3:::${BUCKET}/*`,
        });
      }),
    ).toEqual([`the bucket policy grants s3:GetObject to arn:aws:iam::${prodOsl2}:root, which is not a writer`]);
    expect(
      edit((d) => {
        d.Statement = d.Statement.filter((s) => s.Sid !== "writers-never-delete-or-reconfigure");
      }).join(),
    ).toContain("does not deny s3:DeleteObject, s3:DeleteObjectVersion");
    expect(
      edit((d) => {
        d.Statement = d.Statement.filter((s) => s.Sid !== "put-production-osl2-ops");
      }),
    ).toEqual(["the bucket policy does not let the writer of production-osl2-ops put objects"]);
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
      const [job] = ofType(result.resources, "kubernetes:batch/v1:CronJob").filter(
        (j) => j.name === `${cluster}-etcd-backup-cronjob`,
      );
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
      expect(snapshot.args.join(" ")).toBe(
        "--talosconfig /var/run/secrets/talos/config --endpoints $(NODE_IP) --nodes $(NODE_IP) etcd snapshot /snapshot/etcd.db",
      );
      const [upload] = pod.containers;
      expect(upload.command).toEqual(["node", "/opt/etcd-backup/etcd-backup.mjs", "upload"]);
      const env = Object.fromEntries(upload.env.map((e: any) => [e.name, e.value ?? e.valueFrom]));
      expect(env.BACKUP_CLUSTER).toBe(cluster);
      expect(env.BACKUP_PREFIX).toBe(`${cluster}/`);
      // Credentials come from the Secret, never as values in the pod spec.
      expect(env.BACKUP_SECRET_ACCESS_KEY).toEqual({
        secretKeyRef: { name: "etcd-backup-credentials", key: "s3-secret-access-key" },
      });
      for (const container of [snapshot, upload]) {
        expect(container.securityContext).toEqual({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ["ALL"] },
          seccompProfile: { type: "RuntimeDefault" },
        });
      }
      expect(snapshot.resources).toEqual(ETCD_BACKUP_RESOURCES.snapshot);
      expect(upload.resources).toEqual(ETCD_BACKUP_RESOURCES.upload);
      const [namespace] = ofType(result.resources, "kubernetes:core/v1:Namespace").filter(
        (n) => n.name === `${cluster}-etcd-backup-namespace`,
      );
      expect((namespace!.inputs.metadata as any).labels["pod-security.kubernetes.io/enforce"]).toBe("restricted");
      expect((namespace!.inputs.metadata as any).name).toBe(BACKUP_NAMESPACE);
    }
    // Every existing policy still passes with the CronJob in place (resources, admission guard, metadata block...).
    expect(result.compliance.failedControls).toEqual([]);
    expect(result.compliance.results.find((r) => r.name === "etcd-backups-put-only")!.status).toBe("pass");
  });

  it("with a Talos client that may only snapshot, a writer project of its own (never the bucket owner's), and secrets kept secret", async () => {
    const result = await synthOk(stack);
    const env = result.environment as keyof typeof projects.environments;
    const writers = backupWriters(stack);
    for (const cluster of ofType(result.resources, "ske:cluster:Cluster").map((c) => c.name)) {
      const [csr] = ofType(result.resources, "tls:index/certRequest:CertRequest").filter(
        (c) => c.name === `${cluster}-etcd-backup-talos-csr`,
      );
      expect(hasTalosRole((csr!.inputs.subject as any).organization)).toBe(true);
      const [credential] = ofType(result.resources, "openstack:identity/ec2CredentialV3:Ec2CredentialV3").filter(
        (c) => c.name === `${cluster}-etcd-backup-writer-s3`,
      );
      const site = cluster.split("-")[1]!;
      // RGW acts as one user per project: a credential in the site's environment project would be the bucket owner.
      expect(credential!.inputs).toEqual({ region: expect.any(String), projectId: writers[cluster] });
      expect(writers[cluster]).not.toBe(projects.environments[env][site]!.id);
      expect(
        ofType(result.resources, "openstack:identity/user:User").filter((u) =>
          u.name.startsWith(`${cluster}-etcd-backup`),
        ),
      ).toEqual([]);
      const [secret] = ofType(result.resources, "kubernetes:core/v1:Secret").filter(
        (s) => s.name === `${cluster}-etcd-backup-credentials`,
      );
      expect(secret!.secretPaths).toEqual(expect.arrayContaining(["stringData"]));
      // The CronJob's ConfigMap carries the public key only.
      const [script] = ofType(result.resources, "kubernetes:core/v1:ConfigMap").filter(
        (s) => s.name === `${cluster}-etcd-backup-script`,
      );
      expect(String((script!.inputs.data as any)["recipient.pem"])).toContain("BEGIN PUBLIC KEY");
      expect(JSON.stringify(script!.inputs)).not.toContain("PRIVATE KEY");
      expect(result.secretOutputPaths).toContain(`backups.clusters.${cluster}.decryptionKeyPem`);
    }
  });

  it("to its site's bucket, made with a COMPLIANCE lock and the put-only policy by the archive's own reconciler, as compliance.md shows", async () => {
    const result = await synthOk(stack);
    const buckets = ofType(result.resources, "command:local:Command").filter((c) =>
      c.name.endsWith("-etcd-backups-object-lock-bucket"),
    );
    expect(buckets.length).toBe(result.sites.length);
    for (const command of buckets) {
      expect(command.inputs.create).toBe(ARCHIVE_RECONCILE_COMMAND);
      expect(command.inputs.update).toBe(ARCHIVE_RECONCILE_COMMAND);
      const [, bucket, mode, lockDays, policy, expireDays] = command.inputs.triggers as [
        string,
        string,
        string,
        number,
        string,
        number,
      ];
      expect([mode, lockDays, expireDays]).toEqual(["COMPLIANCE", 14, 14]);
      const doc = JSON.parse(policy);
      const site = bucket.split("-")[2]!;
      const writers = Object.entries(backupWriters(stack))
        .filter(([c]) => c.split("-")[1] === site)
        .map(([cluster, projectId]) => ({ cluster, projectId }));
      expect(doc).toEqual(
        archiveBucketPolicy(
          bucket,
          writers,
          foreignProjectIdsOf(result.environment as EnvironmentName, projects, committedOwnership(ROOT)),
        ),
      );
      expect(doc.Statement.at(-1)).toMatchObject({ Sid: "DenyOtherEnvironments", Effect: "Deny", Action: "s3:*" });
      expect(result.compliance.report).toMatch(
        new RegExp(
          `\\| [a-z0-9-]+ \\| \`17 \\*/6 \\* \\* \\*\` UTC \\| https://[^|]+/${bucket}/[a-z0-9-]+/ \\| COMPLIANCE 14 days; expire after 14 days \\| put only, under [a-z0-9-]+/; delete, read and bucket settings denied \\|`,
        ),
      );
    }
    expect(result.compliance.results.find((r) => r.name === "object-storage-in-environment")!.status).toBe("pass");
  });
});

/** The policy's view of a real run of the program on a stack file, secrets revealed as CrossGuard reveals them. */
async function policyView(
  stack: string,
  file = stackFilePath(stack),
): Promise<{ resources: PolicyResource[]; ctx: PolicyContext }> {
  const { run, revealed, config, addressPlan } = await revealedProgramRun(file, stack);
  return { resources: policyResources(run.resources, revealed, stack), ctx: policyContext(config, addressPlan) };
}

describe("policy etcd-backups-put-only", () => {
  const judge = (resources: PolicyResource[], ctx: PolicyContext) =>
    etcdBackedUp.validate({ resources, outputs: [] }, ctx).map((v) => v.message);

  it("fails a cluster whose backup writer may delete, or which writes with the deploy identity's own credential", async () => {
    const { resources, ctx } = await policyView("production");
    expect(judge(resources, ctx)).toEqual([]);

    const canDelete = editedResource(resources, "production-osl2-etcd-backups-object-lock-bucket", (r) => {
      const env = r.props.environment as Record<string, string>;
      const doc = JSON.parse(env.ARCHIVE_BUCKET_POLICY!);
      doc.Statement.find((s: any) => s.Sid === "put-production-osl2-ops").Action = ["s3:PutObject", "s3:DeleteObject"];
      doc.Statement = doc.Statement.filter((s: any) => s.Sid !== "writers-never-delete-or-reconfigure");
      env.ARCHIVE_BUCKET_POLICY = JSON.stringify(doc);
    });
    const undenied = WRITER_DENIED_ACTIONS.join(", ");
    expect(judge(canDelete, ctx)).toEqual([
      "bucket ske-production-osl2-etcd-backups: the writer of production-osl2-ops is granted s3:DeleteObject",
      `bucket ske-production-osl2-etcd-backups: the bucket policy does not deny ${undenied} to the writer of production-osl2-ops`,
      `bucket ske-production-osl2-etcd-backups: the bucket policy does not deny ${undenied} to the writer of production-osl2-mgmt`,
    ]);

    const sto2 = projects.environments.production.sto2!.id;
    const sto2Writer = backupWriters("production")["production-sto2-mgmt"];
    const deployIdentity = editedResource(resources, "production-sto2-mgmt-etcd-backup-writer-s3", (r) => {
      r.props.projectId = sto2;
    });
    expect(judge(deployIdentity, ctx)).toEqual([
      `production-sto2-mgmt: the backup credential is the deploy identity's own (project ${sto2}), which owns the bucket and can reconfigure it`,
      `production-sto2-mgmt: its backup credential is project ${sto2}, but the bucket policy's writer for production-sto2-mgmt is ${sto2Writer}`,
    ]);
    const callersOwn = editedResource(resources, "production-sto2-mgmt-etcd-backup-writer-s3", (r) => {
      delete r.props.projectId;
    });
    expect(judge(callersOwn, ctx)).toContain(
      "production-sto2-mgmt: the backup credential is the deploy identity's own (project of whoever runs up), which owns the bucket and can reconfigure it",
    );

    const governance = editedResource(resources, "production-sto2-etcd-backups-object-lock-bucket", (r) => {
      (r.props.environment as Record<string, string>).ARCHIVE_LOCK_MODE = "GOVERNANCE";
    });
    expect(judge(governance, ctx)).toEqual([
      "bucket ske-production-sto2-etcd-backups: object lock is GOVERNANCE, not COMPLIANCE: the bucket owner could delete snapshots",
    ]);

    const early = editedResource(resources, "production-sto2-etcd-backups-object-lock-bucket", (r) => {
      (r.props.environment as Record<string, string>).ARCHIVE_EXPIRE_DAYS = "3";
    });
    expect(judge(early, ctx)).toEqual([
      "bucket ske-production-sto2-etcd-backups: snapshots would expire after 3 days, before their lock ends",
    ]);

    const tsx = editedResource(resources, "production-sto2-etcd-backups-object-lock-bucket", (r) => {
      r.props.create = "npx --no-install tsx scripts/audit-archive-bucket.ts";
    });
    expect(judge(tsx, ctx)).toEqual([
      "bucket ske-production-sto2-etcd-backups: its reconciler runs `npx --no-install tsx scripts/audit-archive-bucket.ts`, which needs a devDependency at deploy time",
    ]);

    const noCronJob = resources.filter((r) => r.name !== "production-osl2-mgmt-etcd-backup-cronjob");
    expect(judge(noCronJob, ctx)).toEqual(["production-osl2-mgmt has no etcd backup CronJob"]);
  });

  it("fails a test stack whose site has no backup storage, and compliance.md says FAIL for 6.2", async () => {
    const file = variantFile("test", (c) => {
      delete c["ske-platform:backups"];
    });
    const result = await within(synthesize({ stack: "test", configFile: file }), 30_000, "synth");
    if (!result.ok) throw new Error(result.error);
    const run = result.compliance.results.find((r) => r.name === "etcd-backups-put-only")!;
    expect(run.status).toBe("fail");
    expect(run.violations.map((v) => v.message)).toEqual([
      "test-osl2-mgmt has no etcd backup CronJob",
      "test-osl2-ops has no etcd backup CronJob",
    ]);
    expect(result.compliance.failedControls).toContain("6.2");
    expect(result.compliance.report).toContain("**Verdict: FAIL.**");
    expect(result.compliance.report).toContain("_(no etcd backup in this stack)_");
  });

  it("runs in the policy pack with every other policy", async () => {
    const { resources, ctx } = await policyView("staging");
    const results = evaluatePolicies({ resources, outputs: [] }, ctx);
    expect(results.find((r) => r.name === "etcd-backups-put-only")).toMatchObject({
      status: "pass",
      control: "6.2",
      enforcement: "mandatory",
    });
  });
});

describe("config", () => {
  it.each(["production", "staging"])("%s refuses to run without backups, naming the key and the file", (stack) => {
    expect(
      configProblemsOf(stack, (c) => {
        delete c["ske-platform:backups"];
      }),
    ).toEqual([
      {
        file: `Pulumi.${stack}.yaml`,
        key: "ske-platform:backups",
        message: `${stack} keeps etcd backups on: declare backups.sites.<site> (endpoint, bucket) for osl2, sto2`,
      },
    ]);
  });

  it("refuses a cluster without a backup writer project, one shared with another cluster, with its archive writer or with another environment", () => {
    const archiveOps = "9d3a61c24b7e4f1a8c256e0f3b2a9d01";
    const problems = configProblemsOf("test", (c) => {
      const writers = c["ske-platform:backups"].writerProjects;
      delete writers["test-osl2-mgmt"];
      writers["test-osl2-ops"] = archiveOps;
      writers["test-sto9-mgmt"] = projects.environments.test.osl2!.id;
    });
    expect(problems).toEqual(
      expect.arrayContaining([
        {
          file: "Pulumi.test.yaml",
          key: "ske-platform:backups.writerProjects.test-osl2-mgmt",
          message: expect.stringContaining("cluster test-osl2-mgmt has no backup writer project"),
        },
        {
          file: "Pulumi.test.yaml",
          key: "ske-platform:backups.writerProjects.test-osl2-ops",
          message: `project ${archiveOps} is the archive writer of test-osl2-ops (audit.archive.writerProjects); the collector's credential, on every node, could then plant snapshots`,
        },
        {
          file: "Pulumi.test.yaml",
          key: "ske-platform:backups.writerProjects.test-sto9-mgmt",
          message: "test-sto9-mgmt is not a cluster of this environment (clusters: test-osl2-ops, test-osl2-mgmt)",
        },
      ]),
    );
    const shared = configProblemsOf("test", (c) => {
      const writers = c["ske-platform:backups"].writerProjects;
      writers["test-osl2-mgmt"] = writers["test-osl2-ops"];
    });
    expect(shared.map((p) => p.message)).toContain(
      `project ${backupWriters("test")["test-osl2-ops"]} is already the backup writer of test-osl2-ops; a shared writer could put under the other cluster's prefix`,
    );
    const foreignWriter = configProblemsOf("test", (c) => {
      c["ske-platform:backups"].writerProjects["test-osl2-ops"] = backupWriters("staging")["staging-osl2-ops"];
    });
    expect(foreignWriter.find((p) => p.key === "ske-platform:backups.writerProjects.test-osl2-ops")?.message).toMatch(
      /is also an archive writer in Pulumi\.staging\.yaml/,
    );
  });

  it("refuses, at synth, a backup writer that is the environment's declared project: the deploy identity that owns the bucket", async () => {
    const file = variantFile("test", (c) => {
      c["ske-platform:backups"].writerProjects["test-osl2-ops"] = projects.environments.test.osl2!.id;
    });
    const refused = synthOk("test", file);
    await expect(refused).rejects.toThrow(/ske-platform:backups\.writerProjects\.test-osl2-ops/);
    await expect(refused).rejects.toThrow(
      /is test's own project in openstack-projects\.yaml \(osl2\), the deploy identity that owns the bucket/,
    );
  }, 60_000);

  it("refuses a schedule cron cannot read, a lock longer than a year and a credential in the endpoint", () => {
    const problems = configProblemsOf("test", (c) => {
      c["ske-platform:backups"].schedule = "every 6 hours";
      c["ske-platform:backups"].lockDays = 400;
      c["ske-platform:backups"].sites.osl2.endpoint = "https://key:secret@s3.osl2.ske.example.net";
    });
    expect(problems.map((p) => p.key)).toEqual(
      expect.arrayContaining([
        "ske-platform:backups.schedule",
        "ske-platform:backups.lockDays",
        "ske-platform:backups.sites.osl2.endpoint",
      ]),
    );
    expect(problems.find((p) => p.key === "ske-platform:backups.schedule")!.message).toContain(
      "five-field cron schedule",
    );
  });
});

describe("the backup bucket's lifecycle", () => {
  const rgw = fakeRgw();
  let spec: ArchiveBucketSpec;
  const writers = [OPS, MGMT];
  const client = () => archiveClient(spec, { accessKeyId: "OWNER", secretAccessKey: "owner-secret" });
  const lifecycle = (status: string, days: number, id = "someone-elses-rule") =>
    `<LifecycleConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Rule><ID>${id}</ID><Filter><Prefix></Prefix></Filter><Status>${status}</Status><Expiration><Days>${days}</Days></Expiration></Rule></LifecycleConfiguration>`;

  beforeAll(async () => {
    await new Promise<void>((resolve) => rgw.server.listen(0, "127.0.0.1", resolve));
    const port = (rgw.server.address() as AddressInfo).port;
    spec = {
      endpoint: `http://127.0.0.1:${port}`,
      bucket: BUCKET,
      region: "osl2",
      mode: "COMPLIANCE",
      days: 14,
      expireDays: 14,
      writers,
      foreignProjectIds: foreignOfProduction,
      policy: JSON.stringify(archiveBucketPolicy(BUCKET, writers, foreignOfProduction)),
    };
  });
  afterAll(() => new Promise<void>((resolve) => rgw.server.close(() => resolve())));

  it("expires snapshots when their lock ends and removes the locked version a day later, signed, once", async () => {
    const { readBack } = await ensureArchiveBucket(await client(), spec);
    expect(readBack).toMatchObject({ objectLock: { enabled: true, mode: "COMPLIANCE", days: 14 }, expireDays: 14 });
    const stored = rgw.buckets.get(BUCKET)!.lifecycle!;
    expect(stored).toMatch(/<Expiration><Days>14<\/Days><\/Expiration>/);
    expect(stored).toContain(
      "<NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration>",
    );
    expect(rgw.calls).toContain("PUT lifecycle");
    rgw.calls.length = 0;
    await ensureArchiveBucket(await client(), spec);
    expect(rgw.calls.filter((c) => c.startsWith("PUT"))).toEqual([]);
  });

  it("refuses to expire snapshots before their lock ends, and reads a disabled rule as none", async () => {
    await expect(ensureArchiveBucket(await client(), { ...spec, expireDays: 7 })).rejects.toThrow(
      `bucket "${BUCKET}": objects would expire after 7 days, before their 14-day lock ends`,
    );
    rgw.buckets.get(BUCKET)!.lifecycle = lifecycle("Disabled", 14, "expire-after-lock");
    await expect(verifyArchiveBucket(await client(), spec)).rejects.toThrow("objects expire after no days, not 14");
    // Anyone's rule counts: one that expires before the lock ends is refused even on a bucket that wants no expiry.
    rgw.buckets.get(BUCKET)!.lifecycle = lifecycle("Enabled", 3);
    const { expireDays: _none, ...noExpiry } = spec;
    await expect(verifyArchiveBucket(await client(), noExpiry)).rejects.toThrow(
      "a lifecycle rule expires objects after 3 days, before their 14-day lock ends",
    );
    // The reconciler puts its rule back.
    await ensureArchiveBucket(await client(), spec);
    expect((await verifyArchiveBucket(await client(), spec)).expireDays).toBe(14);
  });

  it("is set on every backup bucket with the lock period, and never on the audit archive", async () => {
    const { resources } = await policyView("production");
    const commands = resources.filter(
      (r) => r.type === "command:local:Command" && r.name.endsWith("-object-lock-bucket"),
    );
    const expiry = Object.fromEntries(
      commands.map((c) => [c.name, (c.props.environment as Record<string, string>).ARCHIVE_EXPIRE_DAYS]),
    );
    expect(expiry).toEqual({
      "production-audit-archive-object-lock-bucket": undefined,
      "production-osl2-etcd-backups-object-lock-bucket": "14",
      "production-sto2-etcd-backups-object-lock-bucket": "14",
    });
  });

  it("is read back, with lock and policy, by the archive's verify invoke on every preview and up", async () => {
    const seen: string[] = [];
    const policy = JSON.stringify(archiveBucketPolicy(BUCKET, writers, foreignOfProduction));
    const answer = {
      bucket: BUCKET,
      objectLock: { enabled: true, mode: "COMPLIANCE", days: 14 },
      owner: prodOsl2,
      grants: policyGrants(policy),
      denials: policyDenials(policy),
      expireDays: 14,
    };
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => ({ id: `${args.name}_id`, state: { ...args.inputs, access: "AK", secret: "SK" } }),
        call: (args) => {
          seen.push(
            `${args.token} ${String(args.inputs["command"])} ${String((args.inputs["environment"] as Record<string, string> | undefined)?.ARCHIVE_EXPIRE_DAYS)}`,
          );
          return args.token === "command:local:run"
            ? { ...args.inputs, stdout: `${JSON.stringify(answer)}\n`, stderr: "" }
            : args.inputs;
        },
      },
      "ske-platform",
      "production",
      false,
    );
    const bucket = new EtcdBackupBucket("invoke-test", {
      site: "osl2",
      endpoint: "https://s3.osl2.ske.example.net",
      bucket: BUCKET,
      region: "osl2",
      lockDays: 14,
      writers,
      foreignProjectIds: foreignOfProduction,
      projectId: prodOsl2,
      provider: undefined as never,
    });
    // What RGW answered, judged again here (readBackReport, whose refusals test/audit-archive.test.ts covers).
    expect(await within(bucket.readBack, 10_000, "backup bucket read-back")).toMatchObject({
      readBack: "verified",
      bucket: BUCKET,
      objectLock: { mode: "COMPLIANCE", days: 14 },
      expireDays: 14,
    });
    expect(seen).toContain(`command:local:run ${ARCHIVE_VERIFY_COMMAND} 14`);
  });
});

describe("the backup pods' network", () => {
  const spec = backupNetworkPolicySpec({
    controlPlaneAddresses: ["10.32.0.21", "10.32.0.22"],
    endpoint: "https://s3.osl2.example.net",
  });

  it("admits nothing in, and lets out only DNS, the control planes' Talos API and the bucket's port", () => {
    expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(spec.ingress).toEqual([]);
    expect(spec.egress.map((rule) => rule.ports.map((p) => `${p.protocol}/${p.port}`).join(" "))).toEqual([
      "UDP/53 TCP/53",
      "TCP/50000",
      "TCP/443",
    ]);
    expect(spec.egress[1]!.to).toEqual([
      { ipBlock: { cidr: "10.32.0.21/32" } },
      { ipBlock: { cidr: "10.32.0.22/32" } },
    ]);
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
