/**
 * etcd backups: per site, the object-lock bucket every cluster of the site
 * writes to (made by the audit archive's own reconciler); per cluster, a
 * put-only writer identity, the key pair snapshots are encrypted to, a Talos
 * client certificate that may only take snapshots, and the CronJob.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as command from "@pulumi/command";
import * as k8s from "@pulumi/kubernetes";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { ARCHIVE_BUCKET_SCRIPT } from "../audit-trail";
import { REPO_ROOT } from "../../config/load";
import {
  BACKUP_NAMESPACE,
  BACKUP_SCRIPT_CONFIGMAP,
  BACKUP_SCRIPT_FILE,
  BACKUP_SECRET,
  BACKUP_SECRET_KEYS,
  RECIPIENT_KEY_FILE,
  TALOS_BACKUP_ROLE,
  backupCronJobSpec,
  backupNetworkPolicySpec,
  backupPrefix,
  writerUserName,
  type CronJobInput,
} from "../../plan/etcd-backup";
import { CLIENT_CERTIFICATE_LIFETIME } from "../../plan/credential-lifetime";
import { renderTalosconfig } from "../talos/client-config";
import { clientCertificate, type CertificateAuthority } from "../talos/secrets";

/** The Keystone role RGW accepts for S3 through EC2 credentials (rgw_keystone_accepted_roles). */
export const WRITER_ROLE = "member";

export interface S3Credentials {
  /** Both halves are Pulumi secrets. */
  accessKeyId: pulumi.Output<string>;
  secretAccessKey: pulumi.Output<string>;
}

export interface EtcdBackupBucketArgs {
  site: string;
  endpoint: string;
  bucket: string;
  region: string;
  lockDays: number;
  /** JSON of backupBucketPolicy(): other environments denied, each writer put-only under its prefix. */
  bucketPolicy: string;
  /** The site's environment project, whose EC2 credential (the deploy identity's) owns the bucket. */
  projectId: string;
  provider: openstack.Provider;
}

/**
 * A site's backup bucket: created with object lock, COMPLIANCE retention of
 * `lockDays`, its bucket policy and a lifecycle rule that removes snapshots
 * once their lock has ended, by the same reconciler as the audit archive
 * (scripts/audit-archive-bucket.ts), on `pulumi up` only.
 */
export class EtcdBackupBucket extends pulumi.ComponentResource {
  readonly reconcile: command.local.Command;

  constructor(name: string, args: EtcdBackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:backup:EtcdBackupBucket", name, {}, opts);
    // The bucket owner's credential: the deploy identity's, in the site's own project, never handed to a cluster.
    const owner = new openstack.identity.Ec2CredentialV3(`${name}-owner-s3`, {
      region: args.region,
      projectId: args.projectId,
    }, { parent: this, provider: args.provider });
    this.reconcile = new command.local.Command(`${name}-object-lock-bucket`, {
      create: ARCHIVE_BUCKET_SCRIPT,
      update: ARCHIVE_BUCKET_SCRIPT,
      environment: {
        ARCHIVE_ENDPOINT: args.endpoint,
        ARCHIVE_BUCKET: args.bucket,
        ARCHIVE_REGION: args.region,
        ARCHIVE_LOCK_MODE: "COMPLIANCE",
        ARCHIVE_LOCK_DAYS: String(args.lockDays),
        ARCHIVE_ACCESS_KEY_ID: pulumi.secret(owner.access),
        ARCHIVE_SECRET_ACCESS_KEY: pulumi.secret(owner.secret),
        ARCHIVE_BUCKET_POLICY: args.bucketPolicy,
        // Gone a day after the lock ends, so the bucket does not grow for ever; never earlier (lifecycle.ts).
        ARCHIVE_EXPIRE_DAYS: String(args.lockDays),
      },
      triggers: [args.endpoint, args.bucket, args.lockDays, args.bucketPolicy],
    }, { parent: this, retainOnDelete: true });
    this.registerOutputs({});
  }
}

export interface EtcdBackupArgs {
  cluster: string;
  site: string;
  endpoint: string;
  bucket: string;
  region: string;
  schedule: string;
  talosVersion: string;
  /** Node release of the uploader image. */
  nodeVersion: string;
  /** The cluster's Talos API CA, which signs the snapshot-only client certificate. */
  talosCa: CertificateAuthority;
  controlPlaneAddresses: pulumi.Input<string[]>;
  /** The environment's project in the cluster's site; the writer user lives there. */
  projectId: string;
  /** protect + retainOnDelete on the key pair: without its private key no snapshot can be read. */
  protect: boolean;
  openstackProvider: openstack.Provider;
  provider: k8s.Provider;
}

/** The uploader, shipped to the CronJob as a ConfigMap; the same file decrypts during a restore. */
export function backupScript(): string {
  return fs.readFileSync(path.join(REPO_ROOT, "components", "etcd-backup", BACKUP_SCRIPT_FILE), "utf8");
}

/** One cluster's scheduled snapshot. */
/**
 * The writer role's id, looked up in Keystone. An offline preview has no
 * Keystone to ask: there the id stays unknown, like any id the cloud has not
 * answered yet, and the preview says so, so that the rest of the component is
 * still previewed. `pulumi up` fails on the same error.
 */
export function writerRoleId(region: string, parent: pulumi.Resource, provider: pulumi.ProviderResource): pulumi.Output<string> {
  const found = openstack.identity.getRole({ name: WRITER_ROLE, region }, { parent, provider }).then((role) => role.id);
  if (!pulumi.runtime.isDryRun()) return pulumi.output(found);
  return pulumi.output(found.catch((err: unknown) => {
    void pulumi.log.warn(`role ${WRITER_ROLE} NOT looked up in this preview (${err instanceof Error ? err.message.split("\n")[0] : String(err)}); \`pulumi up\` fails until Keystone answers.`, parent);
    return pulumi.unknown as unknown as string;
  }));
}

export class EtcdBackup extends pulumi.ComponentResource {
  readonly cronJob: k8s.batch.v1.CronJob;
  /** Secret: the only key that opens this cluster's snapshots. */
  readonly decryptionKeyPem: pulumi.Output<string>;
  readonly prefix: string;

  constructor(name: string, args: EtcdBackupArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:backup:EtcdBackup", name, {}, opts);
    const os = { parent: this, provider: args.openstackProvider };
    const k8sChild = { parent: this, provider: args.provider };
    this.prefix = backupPrefix(args.cluster);

    // The writer: a user of its own with an S3 credential, which the bucket policy lets put under this prefix only.
    const writer = new openstack.identity.User(`${name}-writer`, {
      region: args.region,
      name: writerUserName(args.cluster),
      defaultProjectId: args.projectId,
      description: `Writes ${args.cluster}'s etcd snapshots to ${args.bucket}/${this.prefix}; put only (bucket policy)`,
      enabled: true,
    }, os);
    new openstack.identity.RoleAssignment(`${name}-writer-role`, {
      region: args.region,
      userId: writer.id,
      projectId: args.projectId,
      roleId: writerRoleId(args.region, this, args.openstackProvider),
    }, os);
    const credential = new openstack.identity.Ec2CredentialV3(`${name}-writer-s3`, {
      region: args.region,
      userId: writer.id,
      projectId: args.projectId,
    }, os);

    // Snapshots are encrypted to this key's public half; the private half never leaves the stack's secrets.
    const key = new tls.PrivateKey(`${name}-encryption-key`, { algorithm: "RSA", rsaBits: 4096 }, { parent: this, protect: args.protect, retainOnDelete: args.protect });
    this.decryptionKeyPem = pulumi.secret(key.privateKeyPem);

    // A Talos client that may take snapshots and read, nothing else.
    const client = clientCertificate(`${name}-talos`, {
      ca: args.talosCa,
      algorithm: "ED25519",
      commonName: `${args.cluster}-etcd-backup`,
      organization: TALOS_BACKUP_ROLE,
      validityHours: CLIENT_CERTIFICATE_LIFETIME.validityHours,
    }, { parent: this });
    const talosconfig = pulumi.secret(
      pulumi.all([args.talosCa.certPem, client.certPem, client.keyPem, args.controlPlaneAddresses]).apply(([caCertPem, clientCertPem, clientKeyPem, endpoints]) =>
        renderTalosconfig({ clusterName: args.cluster, endpoints, caCertPem, clientCertPem, clientKeyPem })),
    );

    const namespace = new k8s.core.v1.Namespace(`${name}-namespace`, {
      metadata: {
        name: BACKUP_NAMESPACE,
        labels: {
          "app.kubernetes.io/managed-by": "ske-platform",
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
        },
      },
    }, k8sChild);
    const inNamespace = { ...k8sChild, dependsOn: [namespace] };
    const secret = new k8s.core.v1.Secret(`${name}-credentials`, {
      metadata: { name: BACKUP_SECRET, namespace: BACKUP_NAMESPACE },
      type: "Opaque",
      stringData: {
        [BACKUP_SECRET_KEYS.talosconfig]: talosconfig,
        [BACKUP_SECRET_KEYS.accessKeyId]: pulumi.secret(credential.access),
        [BACKUP_SECRET_KEYS.secretAccessKey]: pulumi.secret(credential.secret),
      },
    }, inNamespace);
    const script = new k8s.core.v1.ConfigMap(`${name}-script`, {
      metadata: { name: BACKUP_SCRIPT_CONFIGMAP, namespace: BACKUP_NAMESPACE },
      data: { [BACKUP_SCRIPT_FILE]: backupScript(), [RECIPIENT_KEY_FILE]: key.publicKeyPem },
    }, inNamespace);
    new k8s.networking.v1.NetworkPolicy(`${name}-network`, {
      metadata: { name: "etcd-backup", namespace: BACKUP_NAMESPACE },
      spec: pulumi.output(args.controlPlaneAddresses).apply((controlPlaneAddresses) =>
        backupNetworkPolicySpec({ controlPlaneAddresses, endpoint: args.endpoint })),
    }, inNamespace);

    const spec: CronJobInput = {
      cluster: args.cluster,
      site: args.site,
      endpoint: args.endpoint,
      bucket: args.bucket,
      region: args.region,
      schedule: args.schedule,
      talosVersion: args.talosVersion,
      nodeVersion: args.nodeVersion,
    };
    this.cronJob = new k8s.batch.v1.CronJob(`${name}-cronjob`, {
      metadata: { name: "etcd-backup", namespace: BACKUP_NAMESPACE, labels: { "app.kubernetes.io/name": "etcd-backup" } },
      spec: backupCronJobSpec(spec),
    }, { ...k8sChild, dependsOn: [namespace, secret, script] });
    this.registerOutputs({});
  }
}
