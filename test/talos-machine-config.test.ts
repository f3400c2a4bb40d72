import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  AUTHENTICATION_CONFIG,
  assertSupportedTalosVersion,
  controlPlaneConfig,
  renderMachineConfig,
  workerConfig,
  type AuditPolicy,
  type ClusterConfigInput,
} from "../components/talos/machine-config";
import { clusterConfigInput, fakeMachineSecrets } from "./support/talos-fixtures";

const secrets = fakeMachineSecrets;
const input = clusterConfigInput;

// Parse what the instance receives, never the in-memory model.
const controlPlane = (overrides?: Partial<ClusterConfigInput>) =>
  parse(renderMachineConfig(controlPlaneConfig(input(overrides), secrets)));
const worker = (overrides?: Partial<ClusterConfigInput>) =>
  parse(renderMachineConfig(workerConfig(input(overrides), secrets)));
const decode = (b64: string) => Buffer.from(b64, "base64").toString("utf8");

const LEVELS = ["None", "Metadata", "Request", "RequestResponse"];
/** The level the API server would log a request at: the first matching rule wins. */
function auditLevel(policy: AuditPolicy, group: string, resource: string): string {
  const rule = policy.rules.find(
    (r) =>
      !r.resources ||
      r.resources.some((m) => m.group === group && (m.resources.length === 0 || m.resources.includes(resource))),
  );
  return rule?.level ?? "None";
}

function authenticationConfig(config: any) {
  const file = config.machine.files.find(
    (f: any) => f.path === `${AUTHENTICATION_CONFIG.hostDir}/${AUTHENTICATION_CONFIG.file}`,
  );
  expect(file, "authentication config file").toBeDefined();
  return parse(file.content);
}

describe("control-plane machine config", () => {
  it("audits every request at Metadata and omits RequestReceived", () => {
    const policy = controlPlane().cluster.apiServer.auditPolicy as AuditPolicy;
    expect(policy.apiVersion).toBe("audit.k8s.io/v1");
    expect(policy.omitStages).toContain("RequestReceived");
    for (const [group, resource] of [
      ["", "pods"],
      ["apps", "deployments"],
      ["rbac.authorization.k8s.io", "clusterroles"],
      ["", "namespaces"],
    ] as const) {
      expect(auditLevel(policy, group, resource), `${group}/${resource}`).toBe("Metadata");
    }
  });

  it("never logs Secrets, ConfigMaps or TokenReviews above Metadata", () => {
    const policy = controlPlane().cluster.apiServer.auditPolicy as AuditPolicy;
    for (const [group, resource] of [
      ["", "secrets"],
      ["", "configmaps"],
      ["authentication.k8s.io", "tokenreviews"],
    ] as const) {
      const level = auditLevel(policy, group, resource);
      expect(LEVELS.indexOf(level), `${group}/${resource} at ${level}`).toBeLessThanOrEqual(LEVELS.indexOf("Metadata"));
    }
  });

  it("authenticates OIDC users through Zitadel with a structured AuthenticationConfiguration", () => {
    const config = controlPlane();
    const authn = authenticationConfig(config);
    expect(authn.kind).toBe("AuthenticationConfiguration");
    expect(authn.apiVersion).toBe("apiserver.config.k8s.io/v1");
    const [jwt] = authn.jwt;
    expect(jwt.issuer).toEqual({ url: "https://id.ske.example.net", audiences: ["312345678901234567@ske"] });
    expect(jwt.claimMappings.groups).toEqual({ claim: "groups", prefix: "zitadel:" });
    expect(jwt.claimMappings.username.prefix).toBe("zitadel:");
    // The API server reads the file the node holds, through a read-only mount.
    const args = config.cluster.apiServer.extraArgs;
    expect(args["authentication-config"]).toBe(`${AUTHENTICATION_CONFIG.podDir}/${AUTHENTICATION_CONFIG.file}`);
    expect(config.cluster.apiServer.extraVolumes).toContainEqual({
      hostPath: AUTHENTICATION_CONFIG.hostDir,
      mountPath: AUTHENTICATION_CONFIG.podDir,
      readonly: true,
    });
    // The legacy flags cannot be combined with an authentication config.
    expect(Object.keys(args).filter((k) => k.startsWith("oidc-"))).toEqual([]);
    expect(authn.anonymous).toBeUndefined();
  });

  it("demands MFA (amr contains mfa) exactly when zitadel.requireMfa is set", () => {
    const strict = authenticationConfig(controlPlane()).jwt[0].claimValidationRules;
    expect(strict).toHaveLength(1);
    expect(strict[0].expression).toMatch(/claims\.amr/);
    expect(strict[0].expression).toMatch(/'mfa'/);
    expect(strict[0].message).toBeTruthy();
    const lax = authenticationConfig(controlPlane({ oidc: { ...input().oidc, requireMfa: false } })).jwt[0]
      .claimValidationRules;
    expect(lax).toEqual([]);
  });

  it("uses the beta authentication API on Kubernetes lines before 1.34", () => {
    expect(authenticationConfig(controlPlane({ kubernetesVersion: "1.33.5" })).apiVersion).toBe(
      "apiserver.config.k8s.io/v1beta1",
    );
    expect(() => controlPlane({ kubernetesVersion: "1.29.0" })).toThrow(/clusters\.kubernetesVersion/);
  });

  it("encrypts Secrets at rest with secretbox", () => {
    expect(controlPlane().cluster.secretboxEncryptionSecret).toBe(secrets.secretboxKey);
  });

  it("points the cluster at the load-balancer VIP and installs no CNI and no kube-proxy", () => {
    const config = controlPlane();
    expect(config.cluster.controlPlane.endpoint).toBe("https://10.32.0.8:6443");
    expect(config.cluster.apiServer.certSANs).toContain("10.32.0.8");
    expect(config.cluster.network.cni).toEqual({ name: "none" });
    expect(config.cluster.proxy.disabled).toBe(true);
  });

  it("carries our CAs, keys and tokens, base64-encoded PEM as Talos expects", () => {
    const config = controlPlane();
    expect(config.version).toBe("v1alpha1");
    expect(config.machine.type).toBe("controlplane");
    expect(decode(config.machine.ca.crt)).toBe(secrets.machineCa.certPem);
    expect(decode(config.machine.ca.key)).toBe(secrets.machineCa.keyPem);
    expect(decode(config.cluster.ca.key)).toBe(secrets.kubernetesCa.keyPem);
    expect(decode(config.cluster.etcd.ca.crt)).toBe(secrets.etcdCa.certPem);
    expect(decode(config.cluster.aggregatorCA.key)).toBe(secrets.aggregatorCa.keyPem);
    expect(decode(config.cluster.serviceAccount.key)).toBe(secrets.serviceAccountKeyPem);
    expect(config.cluster.token).toBe(secrets.bootstrapToken);
    expect(config.machine.token).toBe(secrets.trustdToken);
  });

  it("serialises values YAML would misread as data, not as template text", () => {
    const tricky = controlPlane({ clusterName: "a: b # c", oidc: { ...input().oidc, groupsPrefix: "- '*'" } });
    expect(tricky.cluster.clusterName).toBe("a: b # c");
    expect(authenticationConfig(tricky).jwt[0].claimMappings.groups.prefix).toBe("- '*'");
  });
});

describe("worker machine config", () => {
  it("joins with tokens and CA certificates only: no CA key, etcd, service-account key or secretbox key", () => {
    const config = worker();
    expect(config.machine.type).toBe("worker");
    expect(config.machine.ca.key).toBe("");
    expect(config.cluster.ca.key).toBe("");
    expect(decode(config.cluster.ca.crt)).toBe(secrets.kubernetesCa.certPem);
    for (const key of ["etcd", "aggregatorCA", "serviceAccount", "secretboxEncryptionSecret", "apiServer"]) {
      expect(config.cluster[key], key).toBeUndefined();
    }
    expect(JSON.stringify(config)).not.toContain(Buffer.from(secrets.machineCa.keyPem!).toString("base64"));
  });

  it("shares the endpoint and the CNI choice with the control plane", () => {
    const config = worker();
    expect(config.cluster.controlPlane.endpoint).toBe("https://10.32.0.8:6443");
    expect(config.cluster.network.cni).toEqual({ name: "none" });
    expect(config.cluster.proxy.disabled).toBe(true);
  });
});

describe("Talos versions", () => {
  it("refuses lines whose config layout differs, naming the key", () => {
    expect(() => assertSupportedTalosVersion("1.14.0")).toThrow(/clusters\.talosVersion.*1\.14/);
    expect(() => assertSupportedTalosVersion("2.0.0")).toThrow(/clusters\.talosVersion/);
    expect(() => assertSupportedTalosVersion("1.11.5")).not.toThrow();
    expect(() => controlPlane({ talosVersion: "1.15.0" })).toThrow(/clusters\.talosVersion/);
  });
});
