import { createHash } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import {
  INGEST_GATEWAY_LABELS,
  INGEST_GATEWAY_PORT,
  LOKI_PUSH_PATH,
  gatewayConfigFacts,
  htpasswdLine,
  nginxConfig,
} from "../components/audit-trail";
import { lokiIngestAuthenticated } from "../policy/audit-trail-controls";
import type { PolicyResource } from "../policy/model";
import { AUDIT_INGEST_PORT } from "../plan/security-rules";
import { PLATFORM_GATEWAY_LABELS } from "../components/monitoring/values";
import {
  fakeEndpoint,
  loadStack,
  policyResourcesOf,
  runGitOps,
  withEditedProps,
  type GitOpsRun,
} from "./support/gitops-fixture";
import { STACKS, ofType } from "./support/stacks";

const SERVICE = "kubernetes:core/v1:Service";
const DEPLOYMENT = "kubernetes:apps/v1:Deployment";
const CONFIGMAP = "kubernetes:core/v1:ConfigMap";
const SECRET = "kubernetes:core/v1:Secret";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy";
const providerOf = (r: { provider?: string }) => r.provider?.split("::")[3];

describe("the ingest gateway's nginx config", () => {
  const config = nginxConfig("http://loki.audit-logs.svc.cluster.local:3100");

  it("proxies only the push path, behind basic auth, POST only, and refuses everything else", () => {
    expect(gatewayConfigFacts(config)).toEqual({
      tlsOnly: true,
      proxiedLocations: [`= ${LOKI_PUSH_PATH}`],
      authenticatedLocations: [`= ${LOKI_PUSH_PATH}`],
      // Whatever tenant a collector claims, the audit ingest writes only into "audit".
      tenants: { [`= ${LOKI_PUSH_PATH}`]: "audit" },
      catchAllRefuses: true,
    });
    expect(config).toMatch(/location = \/loki\/api\/v1\/push \{\n\s+limit_except POST \{ deny all; \}/);
    expect(config).not.toMatch(/query|tail|delete|\/api\/prom/);
    expect(config).toContain('proxy_set_header Authorization "";');
  });

  it("reads a widened config back as widened (the facts a policy relies on)", () => {
    const widened = config.replace("location / { return 404; }", "location / { proxy_pass http://loki:3100; }");
    expect(gatewayConfigFacts(widened)).toMatchObject({
      proxiedLocations: [`= ${LOKI_PUSH_PATH}`, "/"],
      catchAllRefuses: false,
    });
    const open = config.replace(/ {6}auth_basic "audit ingest";\n/, "");
    expect(gatewayConfigFacts(open).authenticatedLocations).toEqual([]);
    expect(gatewayConfigFacts(config.replace(" ssl;", ";")).tlsOnly).toBe(false);
    expect(gatewayConfigFacts(config.replace("  server {\n", "  server {\n    listen 8080;\n")).tlsOnly).toBe(false);
  });
});

describe("push credentials", () => {
  it("are stored as salted SHA-1 ({SSHA}) that verifies the password and nothing else", () => {
    const password = "x".repeat(40);
    const line = htpasswdLine({ user: "test-osl2-ops", password });
    const [user, hash] = line.split(":");
    expect(user).toBe("test-osl2-ops");
    const raw = Buffer.from(hash!.replace("{SSHA}", ""), "base64");
    const [digest, salt] = [raw.subarray(0, 20), raw.subarray(20)];
    expect(
      createHash("sha1")
        .update(Buffer.concat([Buffer.from(password), salt]))
        .digest()
        .equals(digest),
    ).toBe(true);
    expect(
      createHash("sha1")
        .update(Buffer.concat([Buffer.from("y".repeat(40)), salt]))
        .digest()
        .equals(digest),
    ).toBe(false);
    expect(line).not.toContain(password);
  });

  it("refuses short passwords and user names that could break the file", () => {
    expect(() => htpasswdLine({ user: "ops", password: "short" })).toThrow(/shorter than 24/);
    expect(() => htpasswdLine({ user: "ops:admin", password: "x".repeat(40) })).toThrow(/lower-case name/);
  });
});

describe.each(STACKS)("the Loki ingest of %s under mocks", (stack) => {
  let run: GitOpsRun;
  const { plan } = loadStack(stack);
  const ops = plan.clusters.find((c) => c.role === "ops")!;

  beforeAll(async () => {
    run = await runGitOps(stack);
  });

  it("forwards the ingest NodePort to the gateway pods, never to Loki", () => {
    const [nodePort] = ofType(run.resources, SERVICE).filter((s) => (s.inputs["spec"] as any).type === "NodePort");
    expect(nodePort!.inputs["spec"]).toMatchObject({
      selector: INGEST_GATEWAY_LABELS,
      ports: [{ port: INGEST_GATEWAY_PORT, targetPort: INGEST_GATEWAY_PORT, nodePort: AUDIT_INGEST_PORT }],
    });
    const [gateway] = ofType(run.resources, DEPLOYMENT).filter((d) => d.name.endsWith("-ingest-gateway"));
    expect(providerOf(gateway!)).toBe(`${ops.name}-k8s`);
    expect((gateway!.inputs["spec"] as any).template.metadata.labels).toMatchObject(INGEST_GATEWAY_LABELS);
    const [config] = ofType(run.resources, CONFIGMAP).filter((c) => c.name.endsWith("-ingest-gateway-config"));
    expect(gatewayConfigFacts((config!.inputs["data"] as any)["nginx.conf"]).proxiedLocations).toEqual([
      `= ${LOKI_PUSH_PATH}`,
    ]);
  });

  it("admits one credential per cluster of this environment, kept secret, and each collector pushes with its own", () => {
    const passwords = ofType(run.resources, "random:index/randomPassword:RandomPassword").filter((p) =>
      p.name.endsWith("-loki-push-password"),
    );
    expect(passwords.map((p) => p.name).sort()).toEqual(
      plan.clusters.map((c) => `${c.name}-loki-push-password`).sort(),
    );
    const [users] = ofType(run.resources, SECRET).filter((s) => s.name.endsWith("-ingest-gateway-users"));
    expect(users!.secretPaths).toContain("stringData");
    const htpasswd = run.revealed(SECRET, users!.name).stringData.htpasswd as string;
    expect(
      htpasswd
        .trim()
        .split("\n")
        .map((l) => l.split(":")[0])
        .sort(),
    ).toEqual(plan.clusters.map((c) => c.name).sort());

    for (const cluster of plan.clusters) {
      const release = ofType(run.resources, RELEASE).find(
        (r) =>
          r.inputs["chart"] === "vector" &&
          r.inputs["name"] === "audit-collector" &&
          providerOf(r) === `${cluster.name}-k8s`,
      )!;
      const values = release.inputs["values"] as any;
      expect(values.customConfig.sinks.loki.auth).toEqual({
        strategy: "basic",
        user: cluster.name,
        password: "${LOKI_PUSH_PASSWORD}",
      });
      expect(values.env).toContainEqual({
        name: "LOKI_PUSH_PASSWORD",
        valueFrom: { secretKeyRef: { name: "loki-push-credentials", key: "password" } },
      });
      const secret = ofType(run.resources, SECRET).find(
        (s) => s.name === `${cluster.name}-audit-collector-loki-push-credentials`,
      )!;
      expect(providerOf(secret)).toBe(`${cluster.name}-k8s`);
      expect(secret.secretPaths).toContain("stringData");
    }
  });

  it("speaks TLS with a certificate from the environment's own ingest CA, which every collector verifies", () => {
    const [tls] = ofType(run.resources, SECRET).filter((s) => s.name.endsWith("-ingest-gateway-tls"));
    expect(tls!.inputs["type"]).toBe("kubernetes.io/tls");
    expect(tls!.secretPaths).toContain("stringData");
    expect(JSON.stringify(tls!.inputs)).not.toContain(`FAKE-PEM-${stack}-audit-ingest-key`);
    expect(run.revealed(SECRET, tls!.name).stringData["tls.key"]).toBe(`FAKE-PEM-${stack}-audit-ingest-key`);
    expect(run.revealed(SECRET, tls!.name).stringData["tls.crt"]).toBe(
      `-----BEGIN CERTIFICATE-----\nFAKE-CERT-${stack}-audit-ingest-cert\n-----END CERTIFICATE-----\n`,
    );
    const csr = ofType(run.resources, "tls:index/certRequest:CertRequest").find(
      (r) => r.name === `${stack}-audit-ingest-csr`,
    );
    expect(csr!.inputs["dnsNames"]).toEqual([
      "loki-ingest-gateway.audit-logs.svc.cluster.local",
      new URL(fakeEndpoint(ops.name)).hostname,
    ]);
    for (const cluster of plan.clusters) {
      const release = ofType(run.resources, RELEASE).find(
        (r) =>
          r.inputs["chart"] === "vector" &&
          r.inputs["name"] === "audit-collector" &&
          providerOf(r) === `${cluster.name}-k8s`,
      )!;
      const values = release.inputs["values"] as any;
      expect(values.customConfig.sinks.loki.endpoint).toMatch(/^https:\/\//);
      expect(values.customConfig.sinks.loki.tls).toEqual({
        ca_file: "/etc/ske/ingest-ca/ca.crt",
        verify_certificate: true,
        verify_hostname: true,
      });
      // Beside the audit log the collector reads (least privilege), only the CA, read-only.
      expect(values.extraVolumeMounts).toEqual([
        { name: "apiserver-audit-log", mountPath: "/var/log/audit/kube", readOnly: true },
        { name: "ingest-ca", mountPath: "/etc/ske/ingest-ca", readOnly: true },
      ]);
      const ca = ofType(run.resources, CONFIGMAP).find((c) => c.name === `${cluster.name}-audit-collector-ingest-ca`)!;
      expect((ca.inputs["data"] as any)["ca.crt"]).toBe(
        `-----BEGIN CERTIFICATE-----\nFAKE-CERT-${stack}-audit-ingest-ca\n-----END CERTIFICATE-----\n`,
      );
    }
  });

  it("lets only the gateway and Grafana reach Loki's API inside the ops cluster", () => {
    const [policy] = ofType(run.resources, NETPOL);
    expect(policy!.inputs["spec"]).toMatchObject({
      podSelector: { matchLabels: { "app.kubernetes.io/name": "loki" } },
      policyTypes: ["Ingress"],
      ingress: [
        {
          from: [
            { podSelector: { matchLabels: INGEST_GATEWAY_LABELS } },
            // The central view's gateway, which writes platform logs to their own tenant.
            {
              namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "metrics" } },
              podSelector: { matchLabels: PLATFORM_GATEWAY_LABELS },
            },
            { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } } },
          ],
          ports: [{ port: 3100 }],
        },
        expect.anything(),
      ],
    });
  });
});

describe("loki-ingest-authenticated-push-only", () => {
  let resources: PolicyResource[];
  beforeAll(async () => {
    resources = policyResourcesOf(await runGitOps("test"));
  });
  const judge = (rs: PolicyResource[]) =>
    lokiIngestAuthenticated.validate({ resources: rs, outputs: [] }, {} as never).map((v) => v.message);
  const replace = (pred: (r: PolicyResource) => boolean, edit: (props: any) => void) =>
    withEditedProps(resources, pred, edit);

  it("passes the GitOps layer as it is registered", () => {
    expect(judge(resources)).toEqual([]);
  });

  it("fails when the ingest NodePort selects Loki itself", () => {
    const direct = replace(
      (r) => r.type === SERVICE && (r.props.spec as any).type === "NodePort",
      (p) => {
        p.spec.selector = {
          "app.kubernetes.io/name": "loki",
          "app.kubernetes.io/instance": "loki",
          "app.kubernetes.io/component": "single-binary",
        };
      },
    );
    expect(judge(direct)).toEqual(
      expect.arrayContaining([
        "test-audit-logs-ingest exposes Loki's own API (queries included) as NodePort",
        "test-audit-logs-ingest forwards the ingest to pods that mount no gateway config, so pushes are not authenticated",
      ]),
    );
  });

  it("fails when the gateway proxies more than the push path, or without auth", () => {
    const widened = replace(
      (r) => r.type === CONFIGMAP && r.name.endsWith("-ingest-gateway-config"),
      (p) => {
        p.data["nginx.conf"] = p.data["nginx.conf"]
          .replace("location / { return 404; }", "location / { proxy_pass http://loki:3100; }")
          .replace(/ {6}auth_basic "audit ingest";\n/, "");
      },
    );
    expect(judge(widened)).toEqual([
      "the ingest gateway also proxies /; only = /loki/api/v1/push may reach Loki",
      "the ingest gateway proxies = /loki/api/v1/push without basic auth",
      "the ingest gateway proxies / without basic auth",
      "the ingest gateway does not refuse every other path",
    ]);
  });

  it("fails a gateway without TLS, and a collector that pushes over plain HTTP or without verifying", () => {
    const plain = replace(
      (r) => r.type === CONFIGMAP && r.name.endsWith("-ingest-gateway-config"),
      (p) => {
        p.data["nginx.conf"] = p.data["nginx.conf"].replace(" ssl;", ";");
      },
    );
    expect(judge(plain)).toEqual([
      "the ingest gateway accepts connections without TLS, so push credentials travel in clear",
    ]);
    const http = replace(
      (r) =>
        r.type === RELEASE &&
        r.props.chart === "vector" &&
        r.props.name === "audit-collector" &&
        r.name.includes("mgmt"),
      (p) => {
        p.values.customConfig.sinks.loki.endpoint = p.values.customConfig.sinks.loki.endpoint.replace(
          "https:",
          "http:",
        );
      },
    );
    expect(judge(http)).toEqual([
      expect.stringMatching(/^test-osl2-mgmt-audit-collector-vector pushes to http:\/\/.* without verified TLS$/),
    ]);
    const unverified = replace(
      (r) =>
        r.type === RELEASE &&
        r.props.chart === "vector" &&
        r.props.name === "audit-collector" &&
        r.name.includes("mgmt"),
      (p) => {
        p.values.customConfig.sinks.loki.tls.verify_certificate = false;
      },
    );
    expect(judge(unverified)).toEqual([expect.stringMatching(/without verified TLS$/)]);
  });

  it("fails a collector that pushes without a credential or with an inline password, and a missing NetworkPolicy", () => {
    const anonymous = replace(
      (r) =>
        r.type === RELEASE &&
        r.props.chart === "vector" &&
        r.props.name === "audit-collector" &&
        r.name.includes("ops"),
      (p) => {
        delete p.values.customConfig.sinks.loki.auth;
      },
    );
    expect(judge(anonymous)).toEqual(["test-osl2-ops-audit-collector-vector pushes to Loki without a credential"]);
    const inline = replace(
      (r) =>
        r.type === RELEASE &&
        r.props.chart === "vector" &&
        r.props.name === "audit-collector" &&
        r.name.includes("ops"),
      (p) => {
        p.values.customConfig.sinks.loki.auth.password = "hunter2hunter2";
      },
    );
    expect(judge(inline)).toEqual([
      "test-osl2-ops-audit-collector-vector has its push password inline instead of from a Secret",
    ]);
    expect(judge(resources.filter((r) => r.type !== NETPOL))).toEqual([
      "no NetworkPolicy limits who reaches Loki's API inside the ops cluster",
    ]);
  });
});
