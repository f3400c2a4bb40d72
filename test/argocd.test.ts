import * as pulumi from "@pulumi/pulumi";
import { beforeAll, describe, expect, it } from "vitest";
import {
  IN_CLUSTER_SERVER,
  appProjectSpec,
  argoCdValues,
  clusterConnectionConfig,
  oidcConfig,
  projectDestinations,
} from "../components/argocd";
import { parse } from "yaml";
import type { RecordedResource } from "../synth/mock-runtime";
import {
  FAKE_TOKEN_PREFIX,
  fakeClusters,
  fakeEndpoint,
  loadStack,
  runGitOps,
  type GitOpsRun,
} from "./support/gitops-fixture";
import { STACKS, ofType, variantFile } from "./support/stacks";

const SECRET = "kubernetes:core/v1:Secret";
const RELEASE = "kubernetes:helm.sh/v3:Release";
const PROJECT = "kubernetes:argoproj.io/v1alpha1:AppProject";
const APPLICATION = "kubernetes:argoproj.io/v1alpha1:Application";

const sso = {
  issuer: "https://id.example.net",
  clientId: "argocd-client",
  groupsClaim: "groups",
  platformGroup: "platform-team",
  auditorGroup: "auditors",
  requireMfa: true,
};

const providerOf = (r: RecordedResource) => r.provider?.split("::")[3];

describe("Argo CD values", () => {
  const values = argoCdValues({ url: "https://localhost:8080", sso });

  it("exposes no public service: ClusterIP, no ingress", () => {
    expect(values.server.service.type).toBe("ClusterIP");
    expect(values.server.ingress.enabled).toBe(false);
    expect(JSON.stringify(values)).not.toMatch(/LoadBalancer|NodePort/);
  });

  it("disables the local admin and anonymous access", () => {
    expect(values.configs.cm["admin.enabled"]).toBe(false);
    expect(values.configs.cm["users.anonymous.enabled"]).toBe(false);
  });

  it("signs in through Zitadel with PKCE, requesting groups, with no client secret anywhere", () => {
    const oidc = parse(values.configs.cm["oidc.config"]);
    expect(oidc).toEqual(oidcConfig(sso));
    expect(oidc).toMatchObject({ issuer: sso.issuer, clientID: sso.clientId, enablePKCEAuthentication: true });
    expect(oidc.requestedScopes).toContain("groups");
    expect(JSON.stringify(values)).not.toMatch(/clientSecret/i);
    expect(values.dex.enabled).toBe(false);
  });

  it("denies by default and maps only the two groups: platform (with MFA) → admin, auditors → the custom read role", () => {
    expect(values.configs.rbac["policy.default"]).toBe("");
    const lines = values.configs.rbac["policy.csv"].trim().split("\n");
    expect(lines.filter((l) => l.startsWith("g,"))).toEqual([
      "g, mfa:platform-team, role:admin",
      "g, auditors, role:ske-auditor",
    ]);
    expect(values.configs.rbac.scopes).toBe("[groups, ske_mfa_groups]");
  });

  it("gives auditors get on applications, projects, clusters and repositories, and never logs or exec (role:readonly has logs)", () => {
    const grants = values.configs.rbac["policy.csv"]
      .trim()
      .split("\n")
      .filter((l) => l.startsWith("p,"));
    expect(grants).toEqual([
      "p, role:ske-auditor, applications, get, */*, allow",
      "p, role:ske-auditor, applicationsets, get, */*, allow",
      "p, role:ske-auditor, projects, get, *, allow",
      "p, role:ske-auditor, clusters, get, *, allow",
      "p, role:ske-auditor, repositories, get, *, allow",
    ]);
    expect(values.configs.rbac["policy.csv"]).not.toMatch(/role:readonly|\blogs\b|\bexec\b/);
  });

  it("grants role:admin only on the MFA-gated claim when MFA is required, and asks Zitadel for that claim", () => {
    const oidc = parse(values.configs.cm["oidc.config"]);
    expect(oidc.requestedIDTokenClaims).toEqual({ groups: { essential: true }, ske_mfa_groups: { essential: true } });
    expect(values.configs.rbac["policy.csv"]).not.toMatch(/^g, platform-team, role:admin$/m);
    const lax = argoCdValues({ url: "https://localhost:8080", sso: { ...sso, requireMfa: false } });
    expect(lax.configs.rbac["policy.csv"]).toMatch(/^g, platform-team, role:admin$/m);
    expect(lax.configs.rbac.scopes).toBe("[groups]");
  });
});

describe("cluster registration data", () => {
  it("puts the token and the base64 CA into config, verifying TLS", () => {
    const config = JSON.parse(clusterConnectionConfig({ bearerToken: "tok", caCertificate: "PEM" }));
    expect(config).toEqual({
      bearerToken: "tok",
      tlsClientConfig: { insecure: false, caData: Buffer.from("PEM").toString("base64") },
    });
    expect(JSON.parse(clusterConnectionConfig("in-cluster"))).toEqual({ tlsClientConfig: { insecure: false } });
  });

  it("refuses an empty token rather than registering a cluster Argo CD cannot reach", () => {
    expect(() => clusterConnectionConfig({ bearerToken: "", caCertificate: "PEM" })).toThrow(/token is empty/);
  });

  it("refuses wildcard or non-https project destinations", () => {
    expect(() => projectDestinations(["*"])).toThrow(/concrete https/);
    expect(() => projectDestinations(["https://*.example.net:6443"])).toThrow(/concrete https/);
    expect(() => projectDestinations(["http://a:6443"])).toThrow(/concrete https/);
    expect(
      appProjectSpec("test", "git@github.com:o/r.git", ["https://a:6443", "https://a:6443"]).destinations.filter(
        (d) => !d.namespace.startsWith("!"),
      ),
    ).toHaveLength(1);
  });
});

describe.each(STACKS)("the GitOps layer of %s under mocks", (stack) => {
  let run: GitOpsRun;
  const { plan, loaded } = loadStack(stack);
  const ops = plan.clusters.find((c) => c.role === "ops")!;
  const management = plan.clusters.filter((c) => c.role === "management");
  const namespace = loaded.config.argocd.namespace;
  const opsProvider = `${ops.name}-k8s`;

  beforeAll(async () => {
    run = await runGitOps(stack);
  });

  it("installs the argo-cd chart from config into the ops cluster", () => {
    const release = ofType(run.resources, RELEASE).find((r) => r.inputs["chart"] === "argo-cd")!;
    expect(release.inputs).toMatchObject({
      version: loaded.config.argocd.chartVersion,
      repositoryOpts: { repo: loaded.config.argocd.chartRepository },
      namespace,
    });
    expect(providerOf(release)).toBe(opsProvider);
    expect(release.inputs["values"]).toMatchObject({
      server: { service: { type: "ClusterIP" } },
      configs: { cm: { "admin.enabled": false } },
    });
  });

  it("registers every management cluster with a cluster Secret labelled environment, site and role", () => {
    const clusterSecrets = ofType(run.resources, SECRET).filter(
      (r) => (r.inputs["metadata"] as any)?.labels?.["argocd.argoproj.io/secret-type"] === "cluster",
    );
    expect(clusterSecrets).toHaveLength(plan.clusters.length);
    for (const cluster of management) {
      const secret = clusterSecrets.find((r) => (r.inputs["metadata"] as any).labels["cluster-name"] === cluster.name);
      expect(secret, cluster.name).toBeDefined();
      expect((secret!.inputs["metadata"] as any).labels).toMatchObject({
        environment: stack,
        site: cluster.site,
        role: "management",
      });
      expect((secret!.inputs["metadata"] as any).namespace).toBe(namespace);
      expect(providerOf(secret!)).toBe(opsProvider);

      const { stringData } = run.revealed(SECRET, secret!.name);
      expect(stringData.server).toBe(fakeEndpoint(cluster.name));
      const config = JSON.parse(stringData.config);
      expect(config.bearerToken).toBe(`${FAKE_TOKEN_PREFIX}${cluster.name}-argocd-manager-token`);
      expect(Buffer.from(config.tlsClientConfig.caData, "base64").toString()).toContain(`FAKE-CA-${cluster.name}`);
      expect(config.tlsClientConfig.insecure).toBe(false);
      expect(secret!.secretPaths).toContain("stringData");
    }
    const own = clusterSecrets.find((r) => (r.inputs["metadata"] as any).labels.role === "ops")!;
    expect(run.revealed(SECRET, own.name).stringData.server).toBe(IN_CLUSTER_SERVER);
  });

  it("creates argocd-manager's account, token and binding in each management cluster through that cluster's provider", () => {
    for (const cluster of management) {
      const inCluster = run.resources.filter(
        (r) => r.custom && providerOf(r) === `${cluster.name}-k8s` && r.name.includes("argocd-manager"),
      );
      const types = inCluster.map((r) => r.type).sort();
      expect(types).toEqual(
        [
          SECRET,
          "kubernetes:core/v1:ServiceAccount",
          "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding",
        ].sort(),
      );
      const token = inCluster.find((r) => r.type === SECRET)!;
      expect(token.inputs).toMatchObject({
        type: "kubernetes.io/service-account-token",
        metadata: { annotations: { "kubernetes.io/service-account.name": "argocd-manager" } },
      });
      expect(token.options.dependsOn).toContain(`${cluster.name}-argocd-manager`);
    }
    // None in the ops cluster: Argo CD uses its own service account there.
    expect(
      run.resources.some((r) => providerOf(r) === opsProvider && r.type === "kubernetes:core/v1:ServiceAccount"),
    ).toBe(false);
  });

  it("keeps the GitOps deploy key a secret inside a repository Secret for the GitOps repo", () => {
    const repo = ofType(run.resources, SECRET).find(
      (r) => (r.inputs["metadata"] as any)?.labels?.["argocd.argoproj.io/secret-type"] === "repository",
    )!;
    expect(repo.secretPaths).toContain("stringData");
    const { stringData } = run.revealed(SECRET, repo.name);
    expect(stringData).toEqual({
      type: "git",
      url: `git@github.com:${loaded.config.github.owner}/${loaded.config.github.gitopsRepository}.git`,
      sshPrivateKey: "FAKE-DEPLOY-KEY-PEM",
    });
  });

  it("records no token or key in plain text anywhere", () => {
    const plain = JSON.stringify(run.resources);
    expect(plain).not.toContain(FAKE_TOKEN_PREFIX);
    expect(plain).not.toContain(Buffer.from(FAKE_TOKEN_PREFIX).toString("base64").slice(0, 12));
    expect(plain).not.toContain("FAKE-DEPLOY-KEY-PEM");
    expect(plain).not.toContain("FAKE-SECRET-");
  });

  it("limits the AppProject to this environment's clusters and the GitOps repo", () => {
    const project = ofType(run.resources, PROJECT).find((p) => (p.inputs["metadata"] as any).name === stack);
    const spec = project!.inputs["spec"] as any;
    const servers = [...new Set<string>(spec.destinations.map((d: { server: string }) => d.server))].sort();
    expect(servers).toEqual([IN_CLUSTER_SERVER, ...management.map((c) => fakeEndpoint(c.name))].sort());
    for (const other of STACKS.filter((s) => s !== stack)) {
      const foreign = loadStack(other).plan.clusters.map((c) => fakeEndpoint(c.name));
      for (const server of foreign) expect(servers).not.toContain(server);
    }
    expect(spec.sourceRepos).toEqual([
      `git@github.com:${loaded.config.github.owner}/${loaded.config.github.gitopsRepository}.git`,
    ]);
    expect(project!.options.dependsOn).toContain(`${stack}-argocd-argocd`);
  });

  it("roots the environment in one app-of-apps on environments/<env> with prune, self-heal and the finalizer", () => {
    const [app] = ofType(run.resources, APPLICATION);
    expect(app!.inputs).toMatchObject({
      metadata: { finalizers: ["resources-finalizer.argocd.argoproj.io"], namespace },
      spec: {
        project: `${stack}-root`,
        source: { path: `environments/${stack}` },
        destination: { server: IN_CLUSTER_SERVER },
        syncPolicy: { automated: { prune: true, selfHeal: true } },
      },
    });
    expect(app!.options.dependsOn).toEqual(
      expect.arrayContaining([`${stack}-argocd-argocd`, `${stack}-argocd-project`]),
    );
  });

  it("runs the root app in a project that may create only Applications and ApplicationSets in Argo CD's namespace", () => {
    const root = ofType(run.resources, PROJECT).find((p) => (p.inputs["metadata"] as any).name === `${stack}-root`)!;
    expect(root.inputs["spec"]).toMatchObject({
      destinations: [{ server: IN_CLUSTER_SERVER, namespace }],
      clusterResourceWhitelist: [],
      namespaceResourceWhitelist: [
        { group: "argoproj.io", kind: "Application" },
        { group: "argoproj.io", kind: "ApplicationSet" },
      ],
    });
    const [app] = ofType(run.resources, APPLICATION);
    expect(app!.options.dependsOn).toContain(`${stack}-argocd-root-project`);
  });

  it("keeps workload apps out of Argo CD's namespace and away from AppProjects and Applications", () => {
    const project = ofType(run.resources, PROJECT).find((p) => (p.inputs["metadata"] as any).name === stack)!;
    const spec = project.inputs["spec"] as any;
    expect(spec.destinations).toContainEqual({ server: IN_CLUSTER_SERVER, namespace: `!${namespace}` });
    expect(spec.namespaceResourceBlacklist).toEqual(
      expect.arrayContaining([
        { group: "argoproj.io", kind: "AppProject" },
        { group: "argoproj.io", kind: "Application" },
        { group: "argoproj.io", kind: "ApplicationSet" },
      ]),
    );
  });

  it("takes over the built-in default project with a forced server-side apply and empties it", () => {
    const patches = ofType(run.resources, "kubernetes:argoproj.io/v1alpha1:AppProjectPatch");
    expect(patches).toHaveLength(1);
    expect(patches[0]!.inputs).toMatchObject({
      metadata: { name: "default", namespace, annotations: { "pulumi.com/patchForce": "true" } },
      spec: {
        sourceRepos: [],
        destinations: [],
        clusterResourceWhitelist: [],
        namespaceResourceWhitelist: [],
        namespaceResourceBlacklist: [{ group: "*", kind: "*" }],
      },
    });
    expect(patches[0]!.options.dependsOn).toContain(`${stack}-argocd-argocd`);
  });
});

describe("what the GitOps layer refuses or skips", () => {
  it("refuses to register a cluster of another environment", async () => {
    const other = loadStack("staging").plan;
    await expect(
      runGitOps("production", ({ plan }) => ({ clusters: fakeClusters(plan, { extra: other }) })),
    ).rejects.toThrow(/staging-.*not part of this environment's plan/);
  });

  it("deploys nothing when the Kubernetes layer is off", async () => {
    const file = variantFile("test", (c) => {
      c["ske-platform:layers"] = { kubernetes: false };
    });
    const run = await runGitOps("test", () => ({}), file);
    expect(run.result).toBeUndefined();
    expect(run.resources.filter((r) => r.type.startsWith("kubernetes:"))).toHaveLength(0);
  });

  it("deploys nothing when the clusters have no provider yet", async () => {
    const run = await runGitOps("test", ({ plan }) => ({ clusters: fakeClusters(plan, { withProvider: false }) }));
    expect(run.result).toBeUndefined();
    expect(run.resources.filter((r) => r.type.startsWith("kubernetes:"))).toHaveLength(0);
  });

  it("generates its own deploy key when the GitHub layer hands none over, exporting only the public half", async () => {
    const run = await runGitOps("test", () => ({ deployKeyPrivatePem: undefined }));
    expect(
      ofType(run.resources, "tls:index/privateKey:PrivateKey")
        .filter((k) => k.name.includes("deploy-key"))
        .map((k) => k.name),
    ).toEqual(["test-argocd-deploy-key"]);
    expect(pulumi.Output.isInstance(run.result!.deployKeyPublicOpenssh)).toBe(true);
    const repo = ofType(run.resources, SECRET).find(
      (r) => (r.inputs["metadata"] as any)?.labels?.["argocd.argoproj.io/secret-type"] === "repository",
    )!;
    expect(run.revealed(SECRET, repo.name).stringData.sshPrivateKey).toBe("FAKE-PEM-test-argocd-deploy-key");
    expect(run.secretOutputPaths).not.toContain("deployKeyPublicOpenssh");
    expect(run.plainOutputPaths).toContain("deployKeyPublicOpenssh");
  });
});
