/**
 * etcd backups: per site, the object-lock bucket every cluster of the site
 * writes to (made and read back by the audit archive's own reconciler); per
 * cluster, a put-only writer identity (a Keystone project of its own), the
 * key pair snapshots are encrypted to, a Talos client certificate that may
 * only take snapshots, and the CronJob.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import * as k8s from "@pulumi/kubernetes";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import { objectLockBucket, type ArchiveReadBackReport } from "../audit-trail";
import type { ArchiveWriter } from "../../plan/bucket-policy";
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
  type CronJobInput,
} from "../../plan/etcd-backup";
import { CLIENT_CERTIFICATE_LIFETIME } from "../../plan/credential-lifetime";
import { renderTalosconfig } from "../talos/client-config";
import { clientCertificate, type CertificateAuthority } from "../talos/secrets";

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
  /** Each cluster of the site and its writer project; the bucket policy (archiveBucketPolicy) lets each put under `<cluster>/` only. */
  writers: ArchiveWriter[];
  /** Every other environment's projects and writer projects, which the bucket policy denies everything. */
  foreignProjectIds: string[];
  /** The site's environment project, whose EC2 credential (the deploy identity's) owns the bucket. */
  projectId: string;
  provider: openstack.Provider;
}

/**
 * A site's backup bucket: created with object lock, COMPLIANCE retention of
 * `lockDays`, the writers' put-only policy and a lifecycle rule that removes
 * snapshots once their lock has ended, by the same reconciler as the audit
 * archive (objectLockBucket: reconcile on `up`, read back on every preview
 * and up).
 */
export class EtcdBackupBucket extends pulumi.ComponentResource {
  readonly reconcile: pulumi.CustomResource;
  /** What RGW reports on this run: lock, writers' grants and denials, expiry. */
  readonly readBack: pulumi.Output<ArchiveReadBackReport>;

  constructor(name: string, args: EtcdBackupBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:backup:EtcdBackupBucket", name, {}, opts);
    // The bucket owner's credential: the deploy identity's, in the site's own project, never handed to a cluster.
    const owner = new openstack.identity.Ec2CredentialV3(
      `${name}-owner-s3`,
      {
        region: args.region,
        projectId: args.projectId,
      },
      { parent: this, provider: args.provider },
    );
    ({ reconcile: this.reconcile, readBack: this.readBack } = objectLockBucket(
      name,
      {
        endpoint: args.endpoint,
        bucket: args.bucket,
        region: args.region,
        mode: "COMPLIANCE",
        lockDays: args.lockDays,
        credentials: { accessKeyId: owner.access, secretAccessKey: owner.secret },
        writers: args.writers,
        foreignProjectIds: args.foreignProjectIds,
        // Gone a day after the lock ends, so the bucket does not grow for ever; never earlier (the reconciler refuses).
        expireDays: args.lockDays,
      },
      this,
    ));
    this.registerOutputs({ readBack: this.readBack });
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
  /** The cluster's backup writer project (backups.writerProjects): a project of its own, never the bucket owner's. */
  writerProjectId: string;
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

    // The writer: its own project's S3 credential, which the bucket policy lets put under this prefix only.
    // RGW acts as one user per Keystone project, so a user in the bucket owner's project would be the owner.
    const credential = new openstack.identity.Ec2CredentialV3(
      `${name}-writer-s3`,
      {
        region: args.region,
        projectId: args.writerProjectId,
      },
      os,
    );

    // Snapshots are encrypted to this key's public half; the private half never leaves the stack's secrets.
    const key = new tls.PrivateKey(
      `${name}-encryption-key`,
      { algorithm: "RSA", rsaBits: 4096 },
      { parent: this, protect: args.protect, retainOnDelete: args.protect },
    );
    this.decryptionKeyPem = pulumi.secret(key.privateKeyPem);

    const talosconfig = snapshotTalosconfig(name, args, this);
    const { namespace, secret, script } = buildBackupNamespace(name, args, credential, key, talosconfig, k8sChild);
    this.cronJob = buildBackupCronJob(name, args, { ...k8sChild, dependsOn: [namespace, secret, script] });
    this.registerOutputs({});
  }
}

/** A Talos client certificate that may take snapshots and read, nothing else, as a talosconfig (a secret). */
function snapshotTalosconfig(name: string, args: EtcdBackupArgs, parent: pulumi.Resource): pulumi.Output<string> {
  const client = clientCertificate(
    `${name}-talos`,
    {
      ca: args.talosCa,
      algorithm: "ED25519",
      commonName: `${args.cluster}-etcd-backup`,
      organization: TALOS_BACKUP_ROLE,
      validityHours: CLIENT_CERTIFICATE_LIFETIME.validityHours,
    },
    { parent },
  );
  return pulumi.secret(
    pulumi
      .all([args.talosCa.certPem, client.certPem, client.keyPem, args.controlPlaneAddresses])
      .apply(([caCertPem, clientCertPem, clientKeyPem, endpoints]) =>
        renderTalosconfig({ clusterName: args.cluster, endpoints, caCertPem, clientCertPem, clientKeyPem }),
      ),
  );
}

/** The backup namespace with the uploader's credentials, its script and its network policy. */
function buildBackupNamespace(
  name: string,
  args: EtcdBackupArgs,
  credential: openstack.identity.Ec2CredentialV3,
  key: tls.PrivateKey,
  talosconfig: pulumi.Output<string>,
  k8sChild: pulumi.CustomResourceOptions,
): { namespace: k8s.core.v1.Namespace; secret: k8s.core.v1.Secret; script: k8s.core.v1.ConfigMap } {
  const namespace = new k8s.core.v1.Namespace(
    `${name}-namespace`,
    {
      metadata: {
        name: BACKUP_NAMESPACE,
        labels: {
          "app.kubernetes.io/managed-by": "ske-platform",
          "pod-security.kubernetes.io/enforce": "restricted",
          "pod-security.kubernetes.io/enforce-version": "latest",
        },
      },
    },
    k8sChild,
  );
  const inNamespace = { ...k8sChild, dependsOn: [namespace] };
  const secret = new k8s.core.v1.Secret(
    `${name}-credentials`,
    {
      metadata: { name: BACKUP_SECRET, namespace: BACKUP_NAMESPACE },
      type: "Opaque",
      stringData: {
        [BACKUP_SECRET_KEYS.talosconfig]: talosconfig,
        [BACKUP_SECRET_KEYS.accessKeyId]: pulumi.secret(credential.access),
        [BACKUP_SECRET_KEYS.secretAccessKey]: pulumi.secret(credential.secret),
      },
    },
    inNamespace,
  );
  const script = new k8s.core.v1.ConfigMap(
    `${name}-script`,
    {
      metadata: { name: BACKUP_SCRIPT_CONFIGMAP, namespace: BACKUP_NAMESPACE },
      data: { [BACKUP_SCRIPT_FILE]: backupScript(), [RECIPIENT_KEY_FILE]: key.publicKeyPem },
    },
    inNamespace,
  );
  new k8s.networking.v1.NetworkPolicy(
    `${name}-network`,
    {
      metadata: { name: "etcd-backup", namespace: BACKUP_NAMESPACE },
      spec: pulumi
        .output(args.controlPlaneAddresses)
        .apply((controlPlaneAddresses) => backupNetworkPolicySpec({ controlPlaneAddresses, endpoint: args.endpoint })),
    },
    inNamespace,
  );
  return { namespace, secret, script };
}

/** The scheduled snapshot itself, uploaded under this cluster's prefix. */
function buildBackupCronJob(
  name: string,
  args: EtcdBackupArgs,
  opts: pulumi.CustomResourceOptions,
): k8s.batch.v1.CronJob {
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
  return new k8s.batch.v1.CronJob(
    `${name}-cronjob`,
    {
      metadata: {
        name: "etcd-backup",
        namespace: BACKUP_NAMESPACE,
        labels: { "app.kubernetes.io/name": "etcd-backup" },
      },
      spec: backupCronJobSpec(spec),
    },
    opts,
  );
}
