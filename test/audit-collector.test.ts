import { beforeAll, describe, expect, it } from "vitest";
import {
  COLLECTOR_POD_SECURITY,
  INGEST_CA_CONFIGMAP,
  INGEST_CA_DIR,
  TALOS_AUDIT_LOG_DIR,
  collectorNetworkPolicySpec,
  collectorValues,
} from "../components/audit-trail";
import { loadStack, runGitOps, type GitOpsRun } from "./support/gitops-fixture";
import { ofType } from "./support/stacks";

const values = collectorValues({
  cluster: { name: "production-osl2-mgmt", environment: "production", site: "osl2", role: "management" },
  lokiUrl: "http://10.32.0.8:31100",
  archive: { endpoint: "https://s3.osl2.example.net", bucket: "b", region: "osl2" },
  credentialsSecret: "audit-archive-credentials",
});

describe("the audit collector reads only what it ships", () => {
  it("replaces the chart's host mounts with the audit-log directory alone, read-only", () => {
    expect(values.defaultVolumes).toEqual([]);
    expect(values.defaultVolumeMounts).toEqual([]);
    expect(values.extraVolumes).toEqual([
      { name: "apiserver-audit-log", hostPath: { path: TALOS_AUDIT_LOG_DIR, type: "Directory" } },
    ]);
    expect(values.extraVolumeMounts).toEqual([
      { name: "apiserver-audit-log", mountPath: TALOS_AUDIT_LOG_DIR, readOnly: true },
    ]);
    expect(JSON.stringify(values)).not.toMatch(/"\/var\/lib|"\/proc"|"\/sys"/);
  });

  it("keeps its data dir off the host and tails only the files of that directory", () => {
    expect(values.persistence).toEqual({ hostPath: { enabled: false } });
    expect(values.customConfig.sources.apiserver_audit.include).toEqual([`${TALOS_AUDIT_LOG_DIR}/*.log`]);
    expect(values.resources.limits["ephemeral-storage"]).toBe("2Gi");
  });

  it("runs as the apiserver's own non-root user, with no capability, no escalation and a read-only root", () => {
    expect(values.podSecurityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: 65534,
      runAsGroup: 65534,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(values.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(values.serviceAccount.automountToken).toBe(false);
    expect(values.rbac.create).toBe(false);
  });

  it("needs its privileged namespace only for the hostPath volume: nothing else baseline forbids", () => {
    expect(values.extraVolumes.filter((v) => "hostPath" in v)).toHaveLength(1);
    expect(JSON.stringify(values)).not.toMatch(
      /hostNetwork|hostPID|hostIPC|hostPort|hostProcess|"privileged"|"add"|Unconfined|procMount|sysctls/,
    );
  });
});

describe("the collector's network policy", () => {
  it("admits nothing and lets out only DNS and the sinks' ports, never the metadata service", () => {
    const spec = collectorNetworkPolicySpec({
      lokiUrl: "http://10.32.0.8:31100",
      archiveEndpoint: "https://s3.osl2.example.net",
      siemEndpoint: "https://siem.example.net:8443/x",
    });
    expect(spec.ingress).toEqual([]);
    expect(spec.policyTypes).toEqual(["Ingress", "Egress"]);
    expect(spec.egress.map((r) => r.ports.map((p) => `${p.protocol}/${p.port}`).join(","))).toEqual([
      "UDP/53,TCP/53",
      "TCP/31100",
      "TCP/443",
      "TCP/8443",
    ]);
    for (const rule of spec.egress.slice(1))
      expect(rule.to).toEqual([{ ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.169.254/32"] } }]);
  });

  it("names an in-cluster Loki by its namespace, since CIDR rules never match pods", () => {
    const spec = collectorNetworkPolicySpec({
      lokiUrl: "http://loki.audit-logs.svc.cluster.local:3100",
      archiveEndpoint: "https://s3.example.net",
    });
    expect(spec.egress[1]).toEqual({
      to: [{ namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "audit-logs" } } }],
      ports: [{ protocol: "TCP", port: 3100 }],
    });
  });
});

describe("in every cluster of production", () => {
  let run: GitOpsRun;
  beforeAll(async () => {
    run = await runGitOps("production");
  });

  it("installs the collector with these values, and its network policy, in the privileged-only namespace", () => {
    const { plan } = loadStack("production");
    const releases = ofType(run.resources, "kubernetes:helm.sh/v3:Release").filter(
      (r) => r.inputs["chart"] === "vector" && r.inputs["name"] === "audit-collector",
    );
    expect(releases).toHaveLength(plan.clusters.length);
    for (const release of releases) {
      const v = release.inputs["values"] as typeof values;
      expect(v.defaultVolumes).toEqual([]);
      // The audit log, read-only, and the ingest CA the Loki sink verifies against: nothing else.
      expect(v.extraVolumeMounts).toEqual([
        ...values.extraVolumeMounts,
        { name: "ingest-ca", mountPath: INGEST_CA_DIR, readOnly: true },
      ]);
      expect(v.extraVolumes).toEqual([
        ...values.extraVolumes,
        { name: "ingest-ca", configMap: { name: INGEST_CA_CONFIGMAP } },
      ]);
      expect(v.podSecurityContext.runAsUser).toBe(65534);
    }
    // One per cluster; the ops cluster also has Loki's own, which is not the collector's.
    const policies = ofType(run.resources, "kubernetes:networking.k8s.io/v1:NetworkPolicy").filter(
      (p) => (p.inputs["metadata"] as any).name === "audit-collector",
    );
    expect(policies).toHaveLength(plan.clusters.length);
    const namespaces = ofType(run.resources, "kubernetes:core/v1:Namespace").filter(
      (n) => (n.inputs["metadata"] as any).name === "audit-collector",
    );
    for (const ns of namespaces) expect((ns.inputs["metadata"] as any).labels).toMatchObject(COLLECTOR_POD_SECURITY);
  });
});
