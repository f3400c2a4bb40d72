import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  collectorConfig,
  gatewayConfigFacts,
  lokiValues,
  nginxConfig,
  LOKI_PUSH_PATH,
} from "../components/audit-trail";
import { roleAttributePath } from "../components/grafana";
import {
  METRICS_WRITE_PATH,
  PLATFORM_GATEWAY_LABELS,
  PLATFORM_NAMESPACES,
  platformGatewayConfig,
  platformLogIncludes,
  scrapeConfigs,
  scrapedMetrics,
} from "../components/monitoring";
import { controlPlaneConfig } from "../components/talos/machine-config";
import { clusterConfigInput, fakeMachineSecrets } from "./support/talos-fixtures";
import { cidrContains, cidrOverlaps, formatAddress } from "../plan/cidr";
import {
  AUDIT_STREAM_JOB,
  GRAFANA_DEFAULT_RECEIVER,
  ALERT_RECEIVER,
  alertRules,
  alertingProvisioning,
  metricsIn,
  type AlertArea,
} from "../plan/monitoring";
import {
  AUDIT_INGEST_PORT,
  ETCD_METRICS_PORT,
  PLATFORM_INGEST_PORT,
  siteSecurityTable,
  type SecurityRuleSpec,
} from "../plan/security-rules";
import {
  auditStreamSeparate,
  centralViewAlerts,
  metricsRetentionBounded,
  platformIngestAuthenticated,
  platformLogCollectorShape,
} from "../policy/central-view";
import type { PolicyResource } from "../policy/model";
import {
  fakeEndpoint,
  loadStack,
  policyResourcesOf,
  runGitOps,
  withEditedProps,
  type GitOpsRun,
} from "./support/gitops-fixture";
import { STACKS, ofType, synthOk, variantFile } from "./support/stacks";
import { opsSite } from "./support/site-rules";

const RELEASE = "kubernetes:helm.sh/v3:Release";
const SECRET = "kubernetes:core/v1:Secret";
const providerOf = (r: { provider?: string }) => r.provider?.split("::")[3];
const sourceOf = (r: SecurityRuleSpec) => (r.peer.kind === "group" ? `group:${r.peer.group}` : r.peer.cidr);
const onPort = (rules: SecurityRuleSpec[], port: number) =>
  rules.filter((r) => r.direction === "ingress" && r.ports?.from === port);

describe("the platform ingest's security-group rules", () => {
  it("admit exactly the audit ingest's peers, plus the management workers, and only at the ops load balancers", () => {
    const { rules } = siteSecurityTable(opsSite);
    const platform = onPort(rules, PLATFORM_INGEST_PORT)
      .map((r) => `${r.group}<-${sourceOf(r)}`)
      .sort();
    expect(platform).toEqual([
      "ops-loadbalancer<-10.32.16.0/20",
      "ops-loadbalancer<-group:mgmt-controlplane",
      "ops-loadbalancer<-group:mgmt-worker",
      "ops-worker<-group:ops-loadbalancer",
    ]);
    const audit = new Set(onPort(rules, AUDIT_INGEST_PORT).map((r) => `${r.group}<-${sourceOf(r)}`));
    expect(platform.filter((p) => !audit.has(p))).toEqual(["ops-loadbalancer<-group:mgmt-worker"]);
  });

  it("let etcd's metrics listener be scraped only by its own cluster's workers, where the agent runs", () => {
    const { rules } = siteSecurityTable(opsSite);
    for (const cluster of ["ops", "mgmt"]) {
      expect(
        onPort(rules, ETCD_METRICS_PORT)
          .filter((r) => r.group === `${cluster}-controlplane`)
          .map(sourceOf),
      ).toEqual([`group:${cluster}-worker`]);
    }
    expect(
      onPort(rules, ETCD_METRICS_PORT)
        .map((r) => r.group)
        .sort(),
    ).toEqual(["mgmt-controlplane", "ops-controlplane"]);
  });

  it("open nothing in a site without the ops cluster", () => {
    const remote = siteSecurityTable({
      ...opsSite,
      clusters: ["mgmt"],
      opsInSite: false,
      otherSiteSubnets: ["10.32.0.0/20"],
    });
    expect(onPort(remote.rules, PLATFORM_INGEST_PORT)).toEqual([]);
  });

  it("never admit an address of another environment, over generated site layouts", () => {
    // An environment's /16 split into /20 sites; two foreign /16s elsewhere.
    const layout = fc.record({
      own: fc.integer({ min: 0, max: 40 }),
      foreignA: fc.integer({ min: 41, max: 120 }),
      foreignB: fc.integer({ min: 121, max: 250 }),
      sites: fc.integer({ min: 1, max: 8 }),
      opsIndex: fc.nat(),
    });
    fc.assert(
      fc.property(layout, ({ own, foreignA, foreignB, sites, opsIndex }) => {
        const subnets = Array.from({ length: sites }, (_, i) => `10.${own}.${i * 16}.0/20`);
        const ops = opsIndex % sites;
        const foreign = [`10.${foreignA}.0.0/16`, `10.${foreignB}.0.0/16`];
        const table = siteSecurityTable({
          ...opsSite,
          opsSiteSubnet: subnets[ops]!,
          otherSiteSubnets: subnets.filter((_, i) => i !== ops),
          foreignSupernets: foreign,
        });
        for (const rule of onPort(table.rules, PLATFORM_INGEST_PORT)) {
          if (rule.peer.kind === "group") {
            expect(rule.peer.group).toMatch(/^(mgmt-controlplane|mgmt-worker|ops-loadbalancer)$/);
            continue;
          }
          expect(rule.peer.origin).toBe("env-site");
          expect(cidrContains(`10.${own}.0.0/16`, rule.peer.cidr)).toBe(true);
          for (const f of foreign) expect(cidrOverlaps(rule.peer.cidr, f)).toBe(false);
        }
        expect(onPort(table.rules, PLATFORM_INGEST_PORT).filter((r) => r.peer.kind === "cidr")).toHaveLength(sites - 1);
      }),
      { numRuns: 200 },
    );
    expect(formatAddress(0)).toBe("0.0.0.0");
  });
});

describe("alert rules", () => {
  const clusters = [
    { name: "production-osl2-ops", role: "ops", site: "osl2" },
    { name: "production-osl2-mgmt", role: "mgmt", site: "osl2" },
    { name: "production-sto2-mgmt", role: "mgmt", site: "sto2" },
  ];
  const rules = alertRules(clusters);
  const scraped = new Set(clusters.flatMap((c) => scrapedMetrics(c)));

  it("cover etcd quorum, API server down, certificate expiry, Argo CD out of sync and a stalled audit pipeline", () => {
    const areas = new Set<AlertArea>(rules.map((r) => r.area));
    expect([...areas].sort()).toEqual(["apiserver", "audit", "certificates", "etcd", "gitops"]);
    // A silent cluster is noticed per cluster, for the API server and for the audit stream.
    expect(rules.filter((r) => r.area === "apiserver").map((r) => r.uid)).toEqual(
      clusters.map((c) => `apiserver-down-${c.name}`),
    );
    expect(rules.filter((r) => r.area === "audit").map((r) => r.uid)).toEqual(
      clusters.map((c) => `audit-pipeline-stalled-${c.name}`),
    );
    for (const c of clusters)
      expect(rules.find((r) => r.uid === `apiserver-down-${c.name}`)!.expr).toContain(
        `absent(up{job="apiserver",cluster="${c.name}"})`,
      );
  });

  it("name in each expression exactly the metrics they declare, and every one is scraped by some agent", () => {
    for (const rule of rules.filter((r) => r.source === "metrics")) {
      expect(metricsIn(rule.expr), rule.uid).toEqual([...rule.metrics].sort());
      for (const metric of rule.metrics) expect(scraped.has(metric), `${rule.uid} needs ${metric}`).toBe(true);
    }
  });

  it("scrape etcd on the control-plane nodes at the metrics listener the machine config opens", () => {
    const etcd = scrapeConfigs(clusters[1]!).find((j) => j.job_name === "etcd") as any;
    expect(etcd.relabel_configs[0]).toEqual({
      source_labels: ["__meta_kubernetes_node_labelpresent_node_role_kubernetes_io_control_plane"],
      regex: "true",
      action: "keep",
    });
    expect(etcd.relabel_configs[1].replacement).toBe(`$1:${ETCD_METRICS_PORT}`);
    const config = controlPlaneConfig(clusterConfigInput(), fakeMachineSecrets);
    expect(config.cluster.etcd?.extraArgs).toEqual({ "listen-metrics-urls": `http://0.0.0.0:${ETCD_METRICS_PORT}` });
  });

  it("ask the audit stream for the label the audit collector writes", () => {
    const job = (
      collectorConfig({
        cluster: { ...clusters[0]!, environment: "production" },
        lokiUrl: "http://x:1",
        archive: { endpoint: "https://s3", bucket: "b", region: "r" },
      }).sinks["loki"] as any
    ).labels.job;
    expect(job).toBe(AUDIT_STREAM_JOB);
    for (const rule of rules.filter((r) => r.source === "audit-logs")) {
      for (const selector of rule.metrics) expect(rule.expr).toContain(selector);
      expect(rule.expr).toMatch(
        /^sum\(count_over_time\(\{job="kube-apiserver-audit", cluster="[a-z0-9-]+"\}\[15m\]\)\)$/,
      );
    }
  });

  it("are routed one route per class, to the webhook when one is configured and to Grafana's default otherwise", () => {
    const withHook = alertingProvisioning(
      rules,
      { metrics: "metrics", auditLogs: "loki" },
      { webhookUrl: "https://alerts.example.net/hook" },
    );
    const routes = withHook["policies.yaml"].policies[0]!.routes;
    expect(routes.map((r) => r.object_matchers[0])).toEqual(
      ["etcd", "apiserver", "certificates", "gitops", "audit"].map((a) => ["area", "=", a]),
    );
    expect(new Set(routes.map((r) => r.receiver))).toEqual(new Set([ALERT_RECEIVER]));
    expect(withHook["contactpoints.yaml"]?.contactPoints[0]!.receivers[0]!.settings.url).toBe(
      "https://alerts.example.net/hook",
    );
    const without = alertingProvisioning(rules, { metrics: "metrics", auditLogs: "loki" }, {});
    expect(without["contactpoints.yaml"]).toBeUndefined();
    expect(without["policies.yaml"].policies[0]!.receiver).toBe(GRAFANA_DEFAULT_RECEIVER);
    // Log rules fire on silence; metric rules only on a series.
    const provisioned = withHook["rules.yaml"].groups[0]!.rules;
    expect(provisioned.filter((r) => r.noDataState === "Alerting").map((r) => r.uid)).toEqual(
      clusters.map((c) => `audit-pipeline-stalled-${c.name}`),
    );
    expect(provisioned.find((r) => r.uid.startsWith("audit-"))!.data[0]!.datasourceUid).toBe("loki");
  });
});

describe("the platform ingest gateway and the audit stream", () => {
  const config = platformGatewayConfig(
    "http://victoria-metrics-server.metrics.svc.cluster.local:8428",
    "http://loki.audit-logs.svc.cluster.local:3100",
  );

  it("proxies metrics writes and platform log pushes, both behind basic auth, and nothing else", () => {
    const facts = gatewayConfigFacts(config);
    expect(facts.proxiedLocations).toEqual([`= ${METRICS_WRITE_PATH}`, `= ${LOKI_PUSH_PATH}`]);
    expect(facts.authenticatedLocations).toEqual(facts.proxiedLocations);
    expect(facts.catchAllRefuses).toBe(true);
    expect(config.match(/limit_except POST \{ deny all; \}/g)).toHaveLength(2);
  });

  it("puts platform logs in the platform tenant, while the audit gateway writes only the audit tenant", () => {
    expect(gatewayConfigFacts(config).tenants).toEqual({
      [`= ${METRICS_WRITE_PATH}`]: undefined,
      [`= ${LOKI_PUSH_PATH}`]: "platform",
    });
    expect(gatewayConfigFacts(nginxConfig("http://loki:3100")).tenants).toEqual({ [`= ${LOKI_PUSH_PATH}`]: "audit" });
  });

  it("gives platform logs their own retention and keeps the audit stream undeletable", () => {
    const values = lokiValues({ retentionDays: 30, storageSize: "50Gi", platformLogRetentionDays: 14 });
    expect(values.loki.auth_enabled).toBe(true);
    expect(values.loki.limits_config).toMatchObject({ retention_period: "720h", deletion_mode: "disabled" });
    expect((values.loki as any).runtimeConfig.overrides.platform.retention_period).toBe("336h");
  });

  it("collects only the platform namespaces' pod logs, never the audit log directory", () => {
    expect(platformLogIncludes()).toEqual(PLATFORM_NAMESPACES.map((ns) => `/var/log/pods/${ns}_*/*/*.log`));
    expect(platformLogIncludes().some((p) => p.startsWith("/var/log/audit"))).toBe(false);
  });

  it("collects the Cluster API controllers' logs on the management clusters", () => {
    for (const ns of [
      "cert-manager",
      "capi-operator-system",
      "capi-system",
      "capo-system",
      "cabpt-system",
      "cacppt-system",
    ]) {
      expect(platformLogIncludes()).toContain(`/var/log/pods/${ns}_*/*/*.log`);
    }
  });
});

describe.each(STACKS)("the central view of %s under mocks", (stack) => {
  let run: GitOpsRun;
  const { plan, loaded } = loadStack(stack);
  const config = loaded.config;
  const ops = plan.clusters.find((c) => c.role === "ops")!;
  beforeAll(async () => {
    run = await runGitOps(stack);
  });

  it("runs the metrics store in the ops cluster with the configured, bounded retention", () => {
    const stores = ofType(run.resources, RELEASE).filter((r) => r.inputs["chart"] === "victoria-metrics-single");
    expect(stores).toHaveLength(1);
    expect(providerOf(stores[0]!)).toBe(`${ops.name}-k8s`);
    expect(stores[0]!.inputs["version"]).toBe(config.monitoring.charts.metrics.version);
    expect((stores[0]!.inputs["values"] as any).server.retentionPeriod).toBe(
      `${config.monitoring.metricsRetentionDays}d`,
    );
    const ingest = ofType(run.resources, "kubernetes:core/v1:Service").find(
      (s) => (s.inputs["spec"] as any).ports[0].nodePort === PLATFORM_INGEST_PORT,
    )!;
    expect((ingest.inputs["spec"] as any).selector).toEqual(PLATFORM_GATEWAY_LABELS);
  });

  it("puts an agent and a platform-log collector in every cluster, remote ones pushing to the ops VIP with their own secret credential", () => {
    for (const cluster of plan.clusters) {
      const releases = ofType(run.resources, RELEASE).filter((r) => providerOf(r) === `${cluster.name}-k8s`);
      const agent = releases.find((r) => r.inputs["chart"] === "victoria-metrics-agent")!;
      const logs = releases.find((r) => r.inputs["name"] === "platform-logs")!;
      const url = (agent.inputs["values"] as any).remoteWrite[0].url as string;
      const sink = (logs.inputs["values"] as any).customConfig.sinks.loki;
      if (cluster === ops) {
        expect(url).toBe("https://platform-ingest-gateway.metrics.svc.cluster.local:8443/api/v1/write");
        expect(sink.endpoint).toBe("https://platform-ingest-gateway.metrics.svc.cluster.local:8443");
      } else {
        expect(url).toBe(`https://${ops.name}.api.test:${PLATFORM_INGEST_PORT}/api/v1/write`);
        expect(sink.endpoint).toBe(`https://${ops.name}.api.test:${PLATFORM_INGEST_PORT}`);
      }
      expect((agent.inputs["values"] as any).extraArgs["remoteWrite.basicAuth.username"]).toBe(cluster.name);
      expect(sink.auth).toEqual({ strategy: "basic", user: cluster.name, password: "${PLATFORM_PUSH_PASSWORD}" });
      const secrets = ofType(run.resources, SECRET).filter(
        (s) => s.name.startsWith(`${cluster.name}-telemetry-`) && s.name.endsWith("-push-credentials"),
      );
      expect(secrets).toHaveLength(2);
      for (const s of secrets) expect(s.secretPaths).toContain("stringData");
    }
    const passwords = ofType(run.resources, "random:index/randomPassword:RandomPassword").filter((p) =>
      p.name.endsWith("-platform-push-password"),
    );
    expect(passwords.map((p) => p.name).sort()).toEqual(
      plan.clusters.map((c) => `${c.name}-platform-push-password`).sort(),
    );
  });

  it("serves the platform ingest over TLS with a certificate from the audit ingest's CA, which every pusher verifies", () => {
    const tls = ofType(run.resources, SECRET).find((s) => s.name === `${stack}-metrics-ingest-gateway-tls`)!;
    expect(tls.inputs["type"]).toBe("kubernetes.io/tls");
    expect(tls.inputs["metadata"] as any).toEqual({ name: "platform-ingest-gateway-tls", namespace: "metrics" });
    expect(providerOf(tls)).toBe(`${ops.name}-k8s`);
    expect(tls.secretPaths).toContain("stringData");
    expect(JSON.stringify(tls.inputs)).not.toContain(`FAKE-PEM-${stack}-platform-ingest-key`);
    expect(run.revealed(SECRET, tls.name).stringData["tls.key"]).toBe(`FAKE-PEM-${stack}-platform-ingest-key`);
    expect(run.revealed(SECRET, tls.name).stringData["tls.crt"]).toBe(
      `-----BEGIN CERTIFICATE-----\nFAKE-CERT-${stack}-platform-ingest-cert\n-----END CERTIFICATE-----\n`,
    );
    const gateway = ofType(run.resources, "kubernetes:apps/v1:Deployment").find(
      (d) => d.name === `${stack}-metrics-ingest-gateway`,
    )!;
    expect((gateway.inputs["spec"] as any).template.spec.volumes).toContainEqual({
      name: "tls",
      secret: { secretName: "platform-ingest-gateway-tls" },
    });
    // The same CA as the audit ingest; the certificate names what the pushers dial.
    const signed = ofType(run.resources, "tls:index/locallySignedCert:LocallySignedCert").find(
      (c) => c.name === `${stack}-platform-ingest-cert`,
    )!;
    expect(signed.inputs["caCertPem"]).toBe(
      `-----BEGIN CERTIFICATE-----\nFAKE-CERT-${stack}-audit-ingest-ca\n-----END CERTIFICATE-----\n`,
    );
    expect(signed.inputs["allowedUses"]).toEqual(["digital_signature", "key_encipherment", "server_auth"]);
    const csr = ofType(run.resources, "tls:index/certRequest:CertRequest").find(
      (r) => r.name === `${stack}-platform-ingest-csr`,
    )!;
    expect(csr.inputs["dnsNames"]).toEqual([
      "platform-ingest-gateway.metrics.svc.cluster.local",
      new URL(fakeEndpoint(ops.name)).hostname,
    ]);
    for (const cluster of plan.clusters) {
      const releases = ofType(run.resources, RELEASE).filter((r) => providerOf(r) === `${cluster.name}-k8s`);
      const agent = releases.find((r) => r.inputs["chart"] === "victoria-metrics-agent")!.inputs["values"] as any;
      const logs = releases.find((r) => r.inputs["name"] === "platform-logs")!.inputs["values"] as any;
      expect(agent.extraArgs["remoteWrite.tlsCAFile"]).toBe("/etc/ske/ingest-ca/ca.crt");
      expect(agent.extraArgs["remoteWrite.tlsInsecureSkipVerify"]).toBeUndefined();
      expect(logs.customConfig.sinks.loki.tls).toEqual({
        ca_file: "/etc/ske/ingest-ca/ca.crt",
        verify_certificate: true,
        verify_hostname: true,
      });
      for (const values of [agent, logs]) {
        expect(values.extraVolumes).toContainEqual({ name: "ingest-ca", configMap: { name: "audit-ingest-ca" } });
        expect(values.extraVolumeMounts).toContainEqual({
          name: "ingest-ca",
          mountPath: "/etc/ske/ingest-ca",
          readOnly: true,
        });
      }
      for (const namespace of ["metrics-agent", "platform-logs"]) {
        const ca = ofType(run.resources, "kubernetes:core/v1:ConfigMap").find(
          (c) => c.name === `${cluster.name}-telemetry-${namespace}-ingest-ca`,
        )!;
        expect(providerOf(ca)).toBe(`${cluster.name}-k8s`);
        expect(ca.inputs["metadata"]).toEqual({ name: "audit-ingest-ca", namespace });
        expect((ca.inputs["data"] as any)["ca.crt"]).toBe(
          `-----BEGIN CERTIFICATE-----\nFAKE-CERT-${stack}-audit-ingest-ca\n-----END CERTIFICATE-----\n`,
        );
      }
    }
  });

  it("provisions Grafana with the metrics source, the four dashboards and the alert rules, auditors still Viewer", () => {
    const grafana = ofType(run.resources, RELEASE).find((r) => r.inputs["chart"] === "grafana")!;
    const values = grafana.inputs["values"] as any;
    expect(Object.keys(values.dashboards.platform).sort()).toEqual([
      "ske-apiserver",
      "ske-argocd-sync",
      "ske-cluster-health",
      "ske-etcd",
    ]);
    for (const d of Object.values<{ json: string }>(values.dashboards.platform)) {
      const model = JSON.parse(d.json);
      expect(model.panels.length).toBeGreaterThan(0);
      for (const p of model.panels) expect(p.datasource.uid).toBe("metrics");
    }
    expect(values.alerting["rules.yaml"].groups[0].rules).toHaveLength(2 + 2 * plan.clusters.length + 1);
    expect(values["grafana.ini"]["auth.generic_oauth"].role_attribute_path).toBe(
      roleAttributePath({
        groupsClaim: config.zitadel.groupsClaim,
        platformGroup: config.zitadel.platformGroup,
        auditorGroup: config.zitadel.auditorGroup,
        requireMfa: config.zitadel.requireMfa,
      }),
    );
    expect(values["grafana.ini"]["auth.generic_oauth"].role_attribute_path).toMatch(/'Viewer'$/);
  });
});

describe("central-view policies", () => {
  let resources: PolicyResource[];
  beforeAll(async () => {
    resources = policyResourcesOf(await runGitOps("test"));
  });
  const replace = (pred: (r: PolicyResource) => boolean, edit: (props: any) => void) =>
    withEditedProps(resources, pred, edit);
  const stackMessages = (policy: typeof auditStreamSeparate, rs: PolicyResource[]) =>
    policy.validate({ resources: rs, outputs: [] }, {} as never).map((v) => v.message);
  const resourceMessages = (policy: typeof metricsRetentionBounded, rs: PolicyResource[]) =>
    rs.filter((r) => policy.appliesTo(r, {} as never)).flatMap((r) => policy.validate(r, {} as never));
  const platformConfigMap = (r: PolicyResource) =>
    r.type === "kubernetes:core/v1:ConfigMap" && r.name.includes("metrics-ingest-gateway");
  const auditConfigMap = (r: PolicyResource) =>
    r.type === "kubernetes:core/v1:ConfigMap" && r.name.includes("audit-logs-ingest-gateway");

  it("pass the stack as registered", () => {
    for (const policy of [platformIngestAuthenticated, auditStreamSeparate, centralViewAlerts])
      expect(stackMessages(policy, resources), policy.name).toEqual([]);
    for (const policy of [metricsRetentionBounded, platformLogCollectorShape])
      expect(resourceMessages(policy, resources), policy.name).toEqual([]);
    expect(resources.filter(platformConfigMap)).toHaveLength(1);
    expect(resources.filter(auditConfigMap)).toHaveLength(1);
  });

  it("fail a platform ingest location without basic auth, or one that writes into the audit tenant", () => {
    const open = replace(platformConfigMap, (p) => {
      p.data["nginx.conf"] = p.data["nginx.conf"].replace(/auth_basic "metrics ingest";/, "auth_basic off;");
    });
    expect(stackMessages(platformIngestAuthenticated, open)).toEqual([
      "the platform ingest proxies = /api/v1/write without basic auth",
    ]);
    const forged = replace(platformConfigMap, (p) => {
      p.data["nginx.conf"] = p.data["nginx.conf"].replace("X-Scope-OrgID platform;", "X-Scope-OrgID audit;");
    });
    expect(stackMessages(platformIngestAuthenticated, forged)).toContain(
      "the platform ingest writes = /loki/api/v1/push into the audit tenant",
    );
    expect(stackMessages(auditStreamSeparate, forged)).toEqual([
      expect.stringMatching(/writes into the audit tenant besides the audit ingest$/),
    ]);
  });

  it("fail a platform gateway without TLS or without its TLS Secret, and a pusher without verified TLS", () => {
    const plain = replace(platformConfigMap, (p) => {
      p.data["nginx.conf"] = p.data["nginx.conf"].replace(" ssl;", ";");
    });
    expect(stackMessages(platformIngestAuthenticated, plain)).toEqual([
      "the platform ingest accepts connections without TLS, so push credentials travel in clear",
    ]);
    const noSecret = resources.filter((r) => !(r.type === SECRET && r.name === "test-metrics-ingest-gateway-tls"));
    expect(stackMessages(platformIngestAuthenticated, noSecret)).toEqual([
      "test-metrics-ingest-gateway mounts no TLS Secret of its namespace for its certificate",
    ]);
    const agent = (r: PolicyResource) =>
      r.type === RELEASE && r.props.chart === "victoria-metrics-agent" && r.name.includes("mgmt");
    const httpAgent = replace(agent, (p) => {
      p.values.remoteWrite[0].url = p.values.remoteWrite[0].url.replace("https:", "http:");
    });
    expect(stackMessages(platformIngestAuthenticated, httpAgent)).toEqual([
      expect.stringMatching(/^test-osl2-mgmt-telemetry-vmagent writes metrics to http:\/\/.* without verified TLS$/),
    ]);
    expect(
      stackMessages(
        platformIngestAuthenticated,
        replace(agent, (p) => {
          delete p.values.extraArgs["remoteWrite.tlsCAFile"];
        }),
      ),
    ).toEqual([expect.stringMatching(/without verified TLS$/)]);
    expect(
      stackMessages(
        platformIngestAuthenticated,
        replace(agent, (p) => {
          p.values.extraArgs["remoteWrite.tlsInsecureSkipVerify"] = true;
        }),
      ),
    ).toEqual([expect.stringMatching(/without verified TLS$/)]);
    const logs = (r: PolicyResource) =>
      r.type === RELEASE && r.props.name === "platform-logs" && r.name.includes("mgmt");
    const httpLogs = replace(logs, (p) => {
      p.values.customConfig.sinks.loki.endpoint = p.values.customConfig.sinks.loki.endpoint.replace("https:", "http:");
    });
    expect(stackMessages(platformIngestAuthenticated, httpLogs)).toEqual([
      expect.stringMatching(
        /^test-osl2-mgmt-telemetry-platform-logs pushes platform logs to http:\/\/.* without verified TLS$/,
      ),
    ]);
    expect(
      stackMessages(
        platformIngestAuthenticated,
        replace(logs, (p) => {
          p.values.customConfig.sinks.loki.tls.verify_certificate = false;
        }),
      ),
    ).toEqual([expect.stringMatching(/without verified TLS$/)]);
  });

  it("fail a single-tenant Loki, API deletion, an audit gateway without the audit tenant, and platform logs without their own retention", () => {
    const loki = (r: PolicyResource) => r.type === RELEASE && r.props.chart === "loki";
    expect(
      stackMessages(
        auditStreamSeparate,
        replace(loki, (p) => {
          p.values.loki.auth_enabled = false;
        }),
      ),
    ).toEqual([expect.stringMatching(/auth_enabled must be true/)]);
    expect(
      stackMessages(
        auditStreamSeparate,
        replace(loki, (p) => {
          p.values.loki.limits_config.deletion_mode = "filter-and-delete";
        }),
      ),
    ).toEqual([expect.stringMatching(/deletion through the API must be disabled/)]);
    expect(
      stackMessages(
        auditStreamSeparate,
        replace(loki, (p) => {
          delete p.values.loki.runtimeConfig;
        }),
      ),
    ).toEqual([expect.stringMatching(/platform logs have no retention of their own/)]);
    const untenanted = replace(auditConfigMap, (p) => {
      p.data["nginx.conf"] = p.data["nginx.conf"].replace(/\s*proxy_set_header X-Scope-OrgID audit;/, "");
    });
    expect(stackMessages(auditStreamSeparate, untenanted)).toEqual([
      expect.stringMatching(/passes = \/loki\/api\/v1\/push to tenant \(none\)/),
    ]);
  });

  it("fail an unbounded metrics retention, a missing alert class, and a log collector that reaches for the audit log", () => {
    const store = (r: PolicyResource) => r.type === RELEASE && r.props.chart === "victoria-metrics-single";
    expect(
      resourceMessages(
        metricsRetentionBounded,
        replace(store, (p) => {
          delete p.values.server.retentionPeriod;
        }),
      ),
    ).toEqual([expect.stringMatching(/is not a bounded number of days/)]);
    expect(
      resourceMessages(
        metricsRetentionBounded,
        replace(store, (p) => {
          p.values.server.retentionPeriod = "100y";
        }),
      ),
    ).toHaveLength(1);
    const grafana = (r: PolicyResource) => r.type === RELEASE && r.props.chart === "grafana";
    const noGitops = replace(grafana, (p) => {
      p.values.alerting["rules.yaml"].groups[0].rules = p.values.alerting["rules.yaml"].groups[0].rules.filter(
        (r: any) => r.labels.area !== "gitops",
      );
    });
    expect(stackMessages(centralViewAlerts, noGitops)).toEqual([expect.stringMatching(/no alert rule for gitops$/)]);
    const logs = (r: PolicyResource) => r.type === RELEASE && r.props.name === "platform-logs";
    const greedy = replace(logs, (p) => {
      p.values.extraVolumes.push({ name: "audit", hostPath: { path: "/var/log/audit/kube" } });
    });
    expect(
      resourceMessages(platformLogCollectorShape, greedy).filter((m) => /mounts host \/var\/log\/audit\/kube/.test(m))
        .length,
    ).toBeGreaterThan(0);
  });
});

describe("compliance.md's central view", () => {
  const section = (report: string) => report.slice(report.indexOf("## Central view"));

  it("says what is collected, where, for how long and who reads it, from the registered resources", async () => {
    const run = await synthOk("production");
    const text = section(run.compliance.report);
    expect(text).toMatch(
      /\| API server audit events \(3 collectors\) \| Loki `audit-logs` in the ops cluster, tenant `audit`; object-lock archive \| 30 days in Loki;/,
    );
    expect(text).toMatch(
      /\| Platform logs: pods of the platform namespaces \(3 collectors\) \| Loki `audit-logs` in the ops cluster, tenant `platform` \| 14 days \|/,
    );
    expect(text).toMatch(
      /\| Metrics: API server, etcd, kubelets, Argo CD sync \(3 agents\) \| VictoriaMetrics `metrics` in the ops cluster \| 30 days \|/,
    );
    expect(text).toContain("auditors Viewer");
    for (const name of [
      "metrics-ingest-authenticated",
      "audit-stream-separate",
      "metrics-retention-bounded",
      "central-view-alerts",
      "platform-log-collector-shape",
    ]) {
      expect(text).toContain(`| \`${name}\` | mandatory | PASS |`);
    }
  }, 60_000);

  it("follows the configured retentions", async () => {
    const run = await synthOk(
      "test",
      variantFile("test", (c) => {
        c["ske-platform:monitoring"] = { metricsRetentionDays: 7, platformLogRetentionDays: 3 };
      }),
    );
    const text = section(run.compliance.report);
    expect(text).toMatch(/tenant `platform` \| 3 days \|/);
    expect(text).toMatch(/VictoriaMetrics `metrics` in the ops cluster \| 7 days \|/);
  }, 60_000);
});
