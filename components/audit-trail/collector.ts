import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import {
  ARCHIVE_SECRET_KEYS,
  COLLECTOR_POD_SECURITY,
  LOKI_PUSH_SECRET,
  LOKI_PUSH_SECRET_KEY,
  SIEM_TOKEN_SECRET_KEY,
  collectorNetworkPolicySpec,
  collectorValues,
  type CollectedCluster,
  type SiemSink,
} from "./collector-values";
import { INGEST_CA_CONFIGMAP, INGEST_CA_DIR, INGEST_CA_KEY } from "./ingest-gateway";
import type { ArchiveCredentials } from "./archive-bucket";
import type { ChartRef } from "./index";

export interface AuditCollectorArgs {
  chart: ChartRef;
  namespace: string;
  cluster: CollectedCluster;
  lokiUrl: pulumi.Input<string>;
  /** This collector's credential at the ingest gateway (the password is a secret), and the CA that signed the gateway's certificate. */
  lokiPush: { user: string; password: pulumi.Input<string>; caPem: pulumi.Input<string> };
  archive: {
    endpoint: string;
    bucket: string;
    region: string;
    /** The cluster's writer credential: put under its own prefix only. */
    credentials: ArchiveCredentials;
    /** Named on the Secret, so reviewers and the policy can tell which identity the collector holds. */
    writer: { projectId: string; credentialResource: string };
  };
  siem?: SiemSink;
  /** The SIEM's token when siem.auth is set; goes into the collector's Secret only. */
  siemToken?: pulumi.Input<string>;
  provider: k8s.Provider;
}

function siemTokenOf(args: AuditCollectorArgs): pulumi.Input<string> {
  if (args.siemToken === undefined)
    throw new Error(`audit collector of ${args.cluster.name}: audit.siem.auth is set but no siemToken was handed over`);
  return args.siemToken;
}

export const ARCHIVE_WRITER_ANNOTATIONS = {
  project: "ske-platform/archive-writer-project",
  credential: "ske-platform/archive-writer-credential",
} as const;

/** The apiserver audit log shipper of one cluster. */
export class AuditCollector extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: AuditCollectorArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:audit:AuditCollector", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    const namespace = new k8s.core.v1.Namespace(
      `${name}-namespace`,
      {
        metadata: {
          name: args.namespace,
          // Privileged only because baseline forbids any hostPath; see COLLECTOR_POD_SECURITY.
          labels: { "app.kubernetes.io/managed-by": "ske-platform", ...COLLECTOR_POD_SECURITY },
        },
      },
      child,
    );

    const credentialsSecret = "audit-archive-credentials";
    const credentials = new k8s.core.v1.Secret(
      `${name}-archive-credentials`,
      {
        metadata: {
          name: credentialsSecret,
          namespace: args.namespace,
          annotations: {
            [ARCHIVE_WRITER_ANNOTATIONS.project]: args.archive.writer.projectId,
            [ARCHIVE_WRITER_ANNOTATIONS.credential]: args.archive.writer.credentialResource,
          },
        },
        type: "Opaque",
        stringData: {
          [ARCHIVE_SECRET_KEYS.accessKeyId]: pulumi.secret(args.archive.credentials.accessKeyId),
          [ARCHIVE_SECRET_KEYS.secretAccessKey]: pulumi.secret(args.archive.credentials.secretAccessKey),
          ...(args.siem?.auth ? { [SIEM_TOKEN_SECRET_KEY]: pulumi.secret(siemTokenOf(args)) } : {}),
        },
      },
      { ...child, dependsOn: [namespace] },
    );

    const pushSecret = new k8s.core.v1.Secret(
      `${name}-loki-push-credentials`,
      {
        metadata: { name: LOKI_PUSH_SECRET, namespace: args.namespace },
        type: "Opaque",
        stringData: { [LOKI_PUSH_SECRET_KEY]: pulumi.secret(args.lokiPush.password) },
      },
      { ...child, dependsOn: [namespace] },
    );

    const ingestCa = new k8s.core.v1.ConfigMap(
      `${name}-ingest-ca`,
      {
        metadata: { name: INGEST_CA_CONFIGMAP, namespace: args.namespace },
        data: { [INGEST_CA_KEY]: args.lokiPush.caPem },
      },
      { ...child, dependsOn: [namespace] },
    );

    this.release = new k8s.helm.v3.Release(
      `${name}-vector`,
      {
        name: "audit-collector",
        chart: "vector",
        version: args.chart.version,
        repositoryOpts: { repo: args.chart.repository },
        namespace: args.namespace,
        values: pulumi.output(args.lokiUrl).apply((lokiUrl) =>
          collectorValues({
            cluster: args.cluster,
            lokiUrl,
            archive: { endpoint: args.archive.endpoint, bucket: args.archive.bucket, region: args.archive.region },
            ...(args.siem ? { siem: args.siem } : {}),
            credentialsSecret,
            lokiPushUser: args.lokiPush.user,
            lokiCa: { configMap: INGEST_CA_CONFIGMAP, dir: INGEST_CA_DIR, key: INGEST_CA_KEY },
          }),
        ),
        atomic: true,
      },
      { ...child, dependsOn: [namespace, credentials, pushSecret, ingestCa] },
    );

    new k8s.networking.v1.NetworkPolicy(
      `${name}-network`,
      {
        metadata: { name: "audit-collector", namespace: args.namespace },
        spec: pulumi.output(args.lokiUrl).apply((lokiUrl) =>
          collectorNetworkPolicySpec({
            lokiUrl,
            archiveEndpoint: args.archive.endpoint,
            ...(args.siem ? { siemEndpoint: args.siem.endpoint } : {}),
          }),
        ),
      },
      { ...child, dependsOn: [namespace] },
    );
    this.registerOutputs({});
  }
}
