/**
 * etcd backups, as plain data: where each cluster's snapshots go (the bucket
 * policy is plan/bucket-policy.ts archiveBucketPolicy, as for the audit archive), the CronJob
 * that takes and ships a snapshot, and the restore runbook's commands.
 * components/etcd-backup turns this into resources; docs/operations/restore.md
 * is written from restoreRunbook(). Pure.
 */
import { SERVICES } from "./security-rules";
import { ETCD_BACKUP_RESOURCES } from "./workload-resources";

export const BACKUP_NAMESPACE = "etcd-backup";
export const BACKUP_SECRET = "etcd-backup-credentials";
export const BACKUP_SCRIPT_CONFIGMAP = "etcd-backup-script";
export const BACKUP_SCRIPT_FILE = "etcd-backup.mjs";
/** The Talos API role of the backup client certificate: read-only APIs plus EtcdSnapshot, nothing that changes a node. */
export const TALOS_BACKUP_ROLE = "os:etcd:backup";
/** Where the snapshot is encrypted to: the cluster's public key, in the CronJob's ConfigMap. */
export const RECIPIENT_KEY_FILE = "recipient.pem";
/** Keys of the backup Secret. */
export const BACKUP_SECRET_KEYS = {
  talosconfig: "talosconfig",
  accessKeyId: "s3-access-key-id",
  secretAccessKey: "s3-secret-access-key",
} as const;
/** The uploader image: the Node release the deploy runners pin (plan/deploy-runner-tools.ts), Alpine variant. */
export const uploaderImage = (nodeVersion: string) => `docker.io/library/node:${nodeVersion}-alpine`;
export const talosctlImage = (talosVersion: string) => `ghcr.io/siderolabs/talosctl:v${talosVersion.replace(/^v/, "")}`;

/** Every snapshot of a cluster lives under this prefix of its site's bucket, and only its writer may put there. */
export const backupPrefix = (cluster: string) => `${cluster}/`;

export interface BackupTarget {
  cluster: string;
  site: string;
  endpoint: string;
  bucket: string;
  region: string;
}

export interface CronJobInput extends BackupTarget {
  schedule: string;
  talosVersion: string;
  nodeVersion: string;
}

/** Pod security `restricted`, and a root filesystem nothing can write. */
const restrictedContainer = () => ({
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ["ALL"] },
  seccompProfile: { type: "RuntimeDefault" },
});

/** The uid both containers run as; neither image needs a user of its own. */
const BACKUP_UID = 65532;
const SNAPSHOT_DIR = "/snapshot";
const TALOSCONFIG_PATH = "/var/run/secrets/talos/config";
const SCRIPT_DIR = "/opt/etcd-backup";

/**
 * The CronJob's spec: on a control-plane node, talosctl (role
 * os:etcd:backup) asks that node's apid for a snapshot into an emptyDir,
 * then node encrypts it to the cluster's public key and puts it under the
 * cluster's prefix. No service-account token, pod security `restricted`.
 */
export function backupCronJobSpec(input: CronJobInput) {
  const snapshotMount = { name: "snapshot", mountPath: SNAPSHOT_DIR };
  return {
    schedule: input.schedule,
    timeZone: "Etc/UTC",
    concurrencyPolicy: "Forbid",
    // A node drained at the scheduled minute still gets its run within the hour.
    startingDeadlineSeconds: 3600,
    successfulJobsHistoryLimit: 3,
    failedJobsHistoryLimit: 3,
    jobTemplate: {
      spec: {
        backoffLimit: 2,
        activeDeadlineSeconds: 1800,
        ttlSecondsAfterFinished: 86400,
        template: {
          metadata: { labels: { "app.kubernetes.io/name": "etcd-backup", "ske.io/cluster": input.cluster } },
          spec: {
            restartPolicy: "Never",
            automountServiceAccountToken: false,
            enableServiceLinks: false,
            nodeSelector: { "node-role.kubernetes.io/control-plane": "" },
            tolerations: [{ key: "node-role.kubernetes.io/control-plane", operator: "Exists", effect: "NoSchedule" }],
            securityContext: {
              runAsNonRoot: true,
              runAsUser: BACKUP_UID,
              runAsGroup: BACKUP_UID,
              fsGroup: BACKUP_UID,
              seccompProfile: { type: "RuntimeDefault" },
            },
            volumes: [
              { name: "snapshot", emptyDir: { sizeLimit: ETCD_BACKUP_RESOURCES.snapshot.limits["ephemeral-storage"] } },
              {
                name: "talosconfig",
                secret: {
                  secretName: BACKUP_SECRET,
                  defaultMode: 0o440,
                  items: [{ key: BACKUP_SECRET_KEYS.talosconfig, path: "config" }],
                },
              },
              { name: "script", configMap: { name: BACKUP_SCRIPT_CONFIGMAP, defaultMode: 0o444 } },
            ],
            initContainers: [
              {
                name: "snapshot",
                image: talosctlImage(input.talosVersion),
                // apid on the node the pod runs on: the snapshot never crosses the network unencrypted.
                args: [
                  "--talosconfig",
                  TALOSCONFIG_PATH,
                  "--endpoints",
                  "$(NODE_IP)",
                  "--nodes",
                  "$(NODE_IP)",
                  "etcd",
                  "snapshot",
                  `${SNAPSHOT_DIR}/etcd.db`,
                ],
                env: [{ name: "NODE_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } }],
                securityContext: restrictedContainer(),
                resources: ETCD_BACKUP_RESOURCES.snapshot,
                volumeMounts: [
                  snapshotMount,
                  { name: "talosconfig", mountPath: "/var/run/secrets/talos", readOnly: true },
                ],
              },
            ],
            containers: [
              {
                name: "upload",
                image: uploaderImage(input.nodeVersion),
                command: ["node", `${SCRIPT_DIR}/${BACKUP_SCRIPT_FILE}`, "upload"],
                env: [
                  { name: "BACKUP_FILE", value: `${SNAPSHOT_DIR}/etcd.db` },
                  { name: "BACKUP_CLUSTER", value: input.cluster },
                  { name: "BACKUP_ENDPOINT", value: input.endpoint },
                  { name: "BACKUP_BUCKET", value: input.bucket },
                  { name: "BACKUP_REGION", value: input.region },
                  { name: "BACKUP_PREFIX", value: backupPrefix(input.cluster) },
                  { name: "BACKUP_RECIPIENT", value: `${SCRIPT_DIR}/${RECIPIENT_KEY_FILE}` },
                  {
                    name: "BACKUP_ACCESS_KEY_ID",
                    valueFrom: { secretKeyRef: { name: BACKUP_SECRET, key: BACKUP_SECRET_KEYS.accessKeyId } },
                  },
                  {
                    name: "BACKUP_SECRET_ACCESS_KEY",
                    valueFrom: { secretKeyRef: { name: BACKUP_SECRET, key: BACKUP_SECRET_KEYS.secretAccessKey } },
                  },
                ],
                securityContext: restrictedContainer(),
                resources: ETCD_BACKUP_RESOURCES.upload,
                volumeMounts: [snapshotMount, { name: "script", mountPath: SCRIPT_DIR, readOnly: true }],
              },
            ],
          },
        },
      },
    },
  };
}

export interface RestoreStep {
  title: string;
  /** Shell commands, in order; no secret on any command line (files and environment only). */
  commands: string[];
}

export interface RestoreInput extends BackupTarget {
  environment: string;
  /** Control-plane addresses (apid); the first one is bootstrapped from the snapshot. */
  controlPlane: readonly string[];
}

const q = (value: string) => (/^[A-Za-z0-9@%+=:,./_-]+$/.test(value) ? value : `'${value.replace(/'/g, `'"'"'`)}'`);

/**
 * The restore procedure of one cluster as commands, from the stack's own
 * data: fetch the newest snapshot with the deploy identity's S3 credential,
 * decrypt it with the key from the stack's secrets, wipe etcd on every
 * control-plane node and bootstrap the first one from the snapshot.
 */
export function restoreRunbook(input: RestoreInput): RestoreStep[] {
  if (input.controlPlane.length === 0) throw new Error(`${input.cluster}: no control-plane address to restore onto`);
  const s3 = `aws --endpoint-url ${q(input.endpoint)} --region ${q(input.region)} s3api`;
  const first = input.controlPlane[0]!;
  const stack = `--stack ${q(input.environment)}`;
  return [
    {
      title:
        "From a checkout of this repository on the jump host, work in a private directory, with the cluster's talosconfig from the stack",
      commands: [
        'export REPO="$(git rev-parse --show-toplevel)"',
        'umask 077 && cd "$(mktemp -d)"',
        `pulumi -C "$REPO" stack output clusters ${stack} --show-secrets --json | jq -r '.[${JSON.stringify(input.cluster)}].talosconfig' > talosconfig`,
        'export TALOSCONFIG="$PWD/talosconfig"',
      ],
    },
    {
      title:
        "Find the newest snapshot (S3 credential of the deploy identity in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY)",
      commands: [
        `${s3} list-objects-v2 --bucket ${q(input.bucket)} --prefix ${q(backupPrefix(input.cluster))} --query 'sort_by(Contents,&LastModified)[-1].Key' --output text > snapshot-key`,
        `${s3} get-object --bucket ${q(input.bucket)} --key "$(cat snapshot-key)" snapshot.enc`,
      ],
    },
    {
      title: "Decrypt it with the cluster's backup key (a stack secret) and check it belongs to this cluster",
      commands: [
        `pulumi -C "$REPO" stack output backups ${stack} --show-secrets --json | jq -r '.clusters[${JSON.stringify(input.cluster)}].decryptionKeyPem' > backup-key.pem`,
        `node "$REPO/components/etcd-backup/${BACKUP_SCRIPT_FILE}" decrypt --key backup-key.pem --cluster ${q(input.cluster)} --in snapshot.enc --out db.snapshot`,
        "shred -u backup-key.pem",
      ],
    },
    {
      title: "Wipe etcd on every control-plane node (the cluster is down from here)",
      commands: input.controlPlane.map(
        (ip) => `talosctl -n ${q(ip)} -e ${q(ip)} reset --graceful=false --reboot --system-labels-to-wipe=EPHEMERAL`,
      ),
    },
    {
      title: "Wait until etcd waits for bootstrap on every node (state Preparing)",
      commands: input.controlPlane.map((ip) => `talosctl -n ${q(ip)} -e ${q(ip)} service etcd`),
    },
    {
      title: `Bootstrap ${first} from the snapshot; the others join it`,
      commands: [`talosctl -n ${q(first)} -e ${q(first)} bootstrap --recover-from=./db.snapshot`],
    },
    {
      title: "Check the members and the API",
      commands: [
        `talosctl -n ${q(first)} -e ${q(first)} etcd members`,
        `talosctl -n ${q(first)} -e ${q(first)} health --wait-timeout 15m`,
        "shred -u db.snapshot snapshot.enc talosconfig",
      ],
    },
  ];
}

/** The runbook as Markdown, for docs/operations/restore.md and `npm run synth`. */
export function renderRestoreRunbook(input: RestoreInput): string {
  const steps = restoreRunbook(input);
  return (
    steps
      .map(
        (step, i) =>
          `${i + 1}. ${step.title}:\n\n   \`\`\`sh\n${step.commands.map((c) => `   ${c}`).join("\n")}\n   \`\`\``,
      )
      .join("\n\n") + "\n"
  );
}

/**
 * The backup pods' network: nothing comes in; out go only DNS, the Talos API
 * of the cluster's own control-plane nodes and the bucket's port, never the
 * metadata service (whose user data holds every CA key). A compromised backup
 * pod then holds a put-only credential and can reach nothing else.
 */
export function backupNetworkPolicySpec(input: { controlPlaneAddresses: readonly string[]; endpoint: string }) {
  const url = new URL(input.endpoint);
  const bucketPort = Number(url.port || (url.protocol === "https:" ? 443 : 80));
  const apid = SERVICES.apid.ports!.from;
  return {
    podSelector: {},
    policyTypes: ["Ingress", "Egress"],
    ingress: [],
    egress: [
      {
        to: [
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } },
            podSelector: { matchLabels: { "k8s-app": "kube-dns" } },
          },
        ],
        ports: [
          { protocol: "UDP", port: 53 },
          { protocol: "TCP", port: 53 },
        ],
      },
      {
        to: input.controlPlaneAddresses.map((address) => ({ ipBlock: { cidr: `${address}/32` } })),
        ports: [{ protocol: "TCP", port: apid }],
      },
      {
        to: [{ ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32"] } }],
        ports: [{ protocol: "TCP", port: bucketPort }],
      },
    ],
  };
}
