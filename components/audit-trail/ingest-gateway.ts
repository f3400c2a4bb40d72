/**
 * The only door to Loki from outside the ops cluster: an nginx that accepts
 * `POST /loki/api/v1/push` from a collector that presents its push
 * credential, and answers 404 to everything else (no query, tail, delete or
 * admin API). The HAProxy pair forwards the ingest NodePort to this gateway,
 * never to Loki. Pure data here; the component renders it.
 */
import { createHash } from "node:crypto";
import { INGEST_GATEWAY_RESOURCES, type ResourceSpec } from "../../plan/workload-resources";

export const LOKI_PUSH_PATH = "/loki/api/v1/push";
export const INGEST_GATEWAY_PORT = 8443;
export const INGEST_GATEWAY_NAME = "loki-ingest-gateway";
export const INGEST_GATEWAY_LABELS = {
  "app.kubernetes.io/name": INGEST_GATEWAY_NAME,
  "app.kubernetes.io/part-of": "audit-trail",
} as const;
/** nginx's unprivileged build: runs as uid 101 and listens above 1024. */
export const INGEST_GATEWAY_IMAGE = "docker.io/nginxinc/nginx-unprivileged:1.27-alpine";
const HTPASSWD_DIR = "/etc/nginx/auth";
export const HTPASSWD_KEY = "htpasswd";
const TLS_DIR = "/etc/nginx/tls";
/** Where collectors find the ingest CA (a ConfigMap: the CA certificate is public). */
export const INGEST_CA_DIR = "/etc/ske/ingest-ca";
export const INGEST_CA_KEY = "ca.crt";
export const INGEST_CA_CONFIGMAP = "audit-ingest-ca";

/** The gateway's in-cluster name; also a name in its certificate. */
export const ingestGatewayHost = (namespace: string) => `${INGEST_GATEWAY_NAME}.${namespace}.svc.cluster.local`;

export interface PushCredential {
  /** One user per cluster, so a leaked credential names the cluster it came from. */
  user: string;
  password: string;
}

/**
 * One htpasswd line in nginx's `{SSHA}` scheme. The salt is derived from the
 * credential so the rendered Secret is stable between runs; the password is
 * random and long, so the salt only has to stop precomputed tables.
 */
export function htpasswdLine(credential: PushCredential): string {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(credential.user))
    throw new Error(`push user "${credential.user}" must be a lower-case name`);
  if (credential.password.length < 24)
    throw new Error(`push password of ${credential.user} is shorter than 24 characters`);
  const salt = createHash("sha256").update(`${credential.user}\0${credential.password}`).digest().subarray(0, 8);
  const digest = createHash("sha1")
    .update(Buffer.concat([Buffer.from(credential.password, "utf8"), salt]))
    .digest();
  return `${credential.user}:{SSHA}${Buffer.concat([digest, salt]).toString("base64")}`;
}

/** One authenticated push location of a gateway. */
export interface GatewayLocation {
  /** Exact path; everything else is refused. */
  path: string;
  /** Base URL the push is passed to, path unchanged. */
  upstream: string;
  /** Basic-auth realm; names the stream in a refusal. */
  realm: string;
  /** Loki tenant the gateway sets, overriding whatever the client sent. */
  tenant?: string;
}

/** The audit gateway's one location: pushes land in the audit tenant, whoever claims otherwise. */
export function nginxConfig(lokiUrl: string): string {
  return pushGatewayConfig([{ path: LOKI_PUSH_PATH, upstream: lokiUrl, realm: "audit ingest", tenant: "audit" }]);
}

/** nginx for push-only gateways: each location POST-only behind basic auth, everything else 404. */
export function pushGatewayConfig(locations: readonly GatewayLocation[]): string {
  return [
    "worker_processes 1;",
    "pid /tmp/nginx.pid;",
    "events { worker_connections 1024; }",
    "http {",
    "  client_body_temp_path /tmp/client_body;",
    "  proxy_temp_path /tmp/proxy;",
    "  fastcgi_temp_path /tmp/fastcgi;",
    "  uwsgi_temp_path /tmp/uwsgi;",
    "  scgi_temp_path /tmp/scgi;",
    "  server_tokens off;",
    "  client_max_body_size 16m;",
    "  server {",
    // TLS end to end from the pusher: HAProxy passes TCP through, so the push credential never travels in clear.
    `    listen ${INGEST_GATEWAY_PORT} ssl;`,
    `    ssl_certificate ${TLS_DIR}/tls.crt;`,
    `    ssl_certificate_key ${TLS_DIR}/tls.key;`,
    "    ssl_protocols TLSv1.2 TLSv1.3;",
    ...locations.flatMap((location) => [
      `    location = ${location.path} {`,
      "      limit_except POST { deny all; }",
      `      auth_basic "${location.realm}";`,
      `      auth_basic_user_file ${HTPASSWD_DIR}/${HTPASSWD_KEY};`,
      // The credential stops here; the upstream trusts the gateway.
      '      proxy_set_header Authorization "";',
      ...(location.tenant ? [`      proxy_set_header X-Scope-OrgID ${location.tenant};`] : []),
      `      proxy_pass ${location.upstream};`,
      "    }",
    ]),
    // Probes only; says nothing about the upstream.
    "    location = /healthz { access_log off; return 200; }",
    "    location / { return 404; }",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** What a policy needs to know about a rendered gateway config. */
export interface GatewayConfigFacts {
  /** Every `listen` carries `ssl`, with a certificate and key. */
  tlsOnly: boolean;
  proxiedLocations: string[];
  authenticatedLocations: string[];
  catchAllRefuses: boolean;
  /** Loki tenant each proxied location sets (X-Scope-OrgID), if any. */
  tenants: Record<string, string | undefined>;
}

/** Reads the locations back out of an nginx config of the shape above. */
export function gatewayConfigFacts(config: string): GatewayConfigFacts {
  const locations = [...config.matchAll(/location\s+(=\s*)?(\S+)\s*\{([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}/g)].map((m) => ({
    path: `${m[1] ? "= " : ""}${m[2]}`,
    body: m[3] ?? "",
  }));
  const listens = [...config.matchAll(/^\s*listen\s+([^;]+);/gm)].map((m) => m[1] ?? "");
  return {
    tlsOnly:
      listens.length > 0 &&
      listens.every((l) => /\bssl\b/.test(l)) &&
      /ssl_certificate\s+\S+;/.test(config) &&
      /ssl_certificate_key\s+\S+;/.test(config),
    proxiedLocations: locations.filter((l) => /proxy_pass\s/.test(l.body)).map((l) => l.path),
    authenticatedLocations: locations
      .filter(
        (l) =>
          /auth_basic\s+"[^"]+"/.test(l.body) &&
          /auth_basic_user_file\s+\S+/.test(l.body) &&
          !/auth_basic\s+off/.test(l.body),
      )
      .map((l) => l.path),
    catchAllRefuses: locations.some(
      (l) => l.path === "/" && /return\s+40[34]\s*;/.test(l.body) && !/proxy_pass/.test(l.body),
    ),
    tenants: Object.fromEntries(
      locations
        .filter((l) => /proxy_pass\s/.test(l.body))
        .map((l) => [l.path, /proxy_set_header\s+X-Scope-OrgID\s+([^;\s]+)\s*;/i.exec(l.body)?.[1]]),
    ),
  };
}

export function gatewayDeploymentSpec(args: {
  configMap: string;
  secret: string;
  tlsSecret: string;
  checksum: string;
  labels?: Readonly<Record<string, string>>;
  resources?: ResourceSpec;
}) {
  const labels = args.labels ?? INGEST_GATEWAY_LABELS;
  return {
    replicas: 2,
    selector: { matchLabels: { ...labels } },
    template: {
      metadata: {
        labels: { ...labels },
        // A new credential or config rolls the pods.
        annotations: { "ske-platform/config-checksum": args.checksum },
      },
      spec: {
        automountServiceAccountToken: false,
        securityContext: { runAsNonRoot: true, runAsUser: 101, seccompProfile: { type: "RuntimeDefault" } },
        containers: [
          {
            name: "nginx",
            image: INGEST_GATEWAY_IMAGE,
            ports: [{ name: "push", containerPort: INGEST_GATEWAY_PORT }],
            readinessProbe: { httpGet: { path: "/healthz", port: INGEST_GATEWAY_PORT, scheme: "HTTPS" } },
            securityContext: {
              allowPrivilegeEscalation: false,
              readOnlyRootFilesystem: true,
              capabilities: { drop: ["ALL"] },
            },
            resources: structuredClone(args.resources ?? INGEST_GATEWAY_RESOURCES),
            volumeMounts: [
              { name: "config", mountPath: "/etc/nginx/nginx.conf", subPath: "nginx.conf", readOnly: true },
              { name: "auth", mountPath: HTPASSWD_DIR, readOnly: true },
              { name: "tls", mountPath: TLS_DIR, readOnly: true },
              { name: "tmp", mountPath: "/tmp" },
            ],
          },
        ],
        volumes: [
          { name: "config", configMap: { name: args.configMap } },
          { name: "auth", secret: { secretName: args.secret } },
          { name: "tls", secret: { secretName: args.tlsSecret } },
          { name: "tmp", emptyDir: {} },
        ],
      },
    },
  };
}
