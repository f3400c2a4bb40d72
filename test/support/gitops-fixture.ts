/**
 * Runs the GitOps layer alone under Pulumi mocks, against hand-built
 * DeployedCluster/DeployedSite fixtures, so its tests do not depend on the
 * clusters layer. Records exactly what the synth would.
 */
import * as k8s from "@pulumi/kubernetes";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { loadPlatformConfig, readAddressPlan, type LoadedConfig } from "../../config/load";
import { buildPlatformPlan, type PlatformPlan } from "../../plan/platform-plan";
import { readProjectPlan } from "../../config/projects";
import type { DeployedCluster, DeployedSite } from "../../stacks/contracts";
import { deployGitOps, type GitOpsArgs, type GitOpsOutputs } from "../../stacks/gitops";
import { archiveSeparation } from "../../stacks/platform";
import { revealSecrets, runProgram, type FakeState, type ProgramRun } from "../../synth/mock-runtime";
import { readStackFile } from "../../config/stack-file";
import { stackFilePath } from "./stacks";
import type { PolicyResource } from "../../policy/model";

export const FAKE_TOKEN_PREFIX = "FAKE-SA-TOKEN-";

/** What real providers would compute and the GitOps layer reads back. */
export const gitopsFakeState: FakeState = (type, name, inputs) => {
  switch (type) {
    case "kubernetes:core/v1:Secret":
      if (inputs["type"] === "kubernetes.io/service-account-token") {
        return { data: { token: Buffer.from(`${FAKE_TOKEN_PREFIX}${name}`).toString("base64") } };
      }
      return {};
    case "openstack:identity/ec2CredentialV3:Ec2CredentialV3":
      return { access: `FAKE-ACCESS-${name}`, secret: `FAKE-SECRET-${name}` };
    case "openstack:identity/applicationCredential:ApplicationCredential":
      return { secret: `FAKE-APP-CREDENTIAL-SECRET-${name}` };
    case "tls:index/privateKey:PrivateKey":
      return { privateKeyPem: `FAKE-PEM-${name}`, publicKeyOpenssh: `ssh-ed25519 FAKE-${name}` };
    case "tls:index/selfSignedCert:SelfSignedCert":
    case "tls:index/locallySignedCert:LocallySignedCert":
      return { certPem: `-----BEGIN CERTIFICATE-----\nFAKE-CERT-${name}\n-----END CERTIFICATE-----\n` };
    case "tls:index/certRequest:CertRequest":
      return { certRequestPem: `FAKE-CSR-${name}` };
    case "random:index/randomPassword:RandomPassword":
      return { result: `FAKE-PASSWORD-${name}`.padEnd(Number(inputs["length"] ?? 16), "0") };
    default:
      return {};
  }
};

/** A recognisable per-cluster API URL, so tests can tell environments apart. */
export const fakeEndpoint = (clusterName: string) => `https://${clusterName}.api.test:6443`;

export interface GitOpsFixture {
  loaded: LoadedConfig;
  plan: PlatformPlan;
}

export function loadStack(
  stack: string,
  file = stackFilePath(stack),
): GitOpsFixture & { stackFile: ReturnType<typeof readStackFile> } {
  const stackFile = readStackFile(file, stack);
  const loaded = loadPlatformConfig(stackFile, readAddressPlan());
  return { stackFile, loaded, plan: buildPlatformPlan(loaded.config, loaded.addressPlan) };
}

/** Clusters as the clusters layer hands them over; `withProvider: false` mimics the Kubernetes layer being off. */
export function fakeClusters(
  plan: PlatformPlan,
  options: { withProvider?: boolean; extra?: PlatformPlan } = {},
): DeployedCluster[] {
  const all = [...plan.clusters, ...(options.extra?.clusters ?? [])];
  return all.map((cluster) => ({
    plan: cluster,
    endpoint: pulumi.output(fakeEndpoint(cluster.name)),
    caCertificate: pulumi.output(`-----BEGIN CERTIFICATE-----\nFAKE-CA-${cluster.name}\n-----END CERTIFICATE-----\n`),
    kubeconfig: pulumi.secret(`fake-kubeconfig-${cluster.name}`),
    ...(options.withProvider === false
      ? {}
      : { provider: new k8s.Provider(`${cluster.name}-k8s`, { kubeconfig: "fake" }) }),
  }));
}

export function fakeSites(plan: PlatformPlan): DeployedSite[] {
  return plan.sites.map((site) => ({
    plan: site,
    provider: new openstack.Provider(`${site.prefix}-openstack`, { region: site.config.region, delayedAuth: true }),
    // The GitOps layer never touches the site network.
    network: undefined as never,
  }));
}

/**
 * A resource's inputs with secrets unwrapped. Like the inputs Pulumi's mocks
 * record (`any`), tests read them at whatever depth the resource has; the
 * assertion on the value is the check.
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- see above: typing every Kubernetes input shape would add no check
export type RevealedInputs = Record<string, any>;

export interface GitOpsRun extends ProgramRun {
  result: GitOpsOutputs | undefined;
  /** Inputs as the engine received them, secrets unwrapped: for asserting what a secret holds. */
  revealed(type: string, name: string): RevealedInputs;
}

/**
 * Runs `deployGitOps` for a stack. `overrides` replaces arguments; it runs
 * inside the mocked program, so it may create resources (e.g. providers).
 * A key present with the value undefined removes that argument.
 */
export async function runGitOps(
  stack: string,
  overrides: (fixture: GitOpsFixture) => Partial<GitOpsArgs> = () => ({}),
  file?: string,
): Promise<GitOpsRun> {
  const { stackFile, loaded, plan } = loadStack(stack, file);
  let result: GitOpsOutputs | undefined;
  const raw = new Map<string, Record<string, unknown>>();
  const run = await runProgram({
    stackFile,
    fakeState: (type, name, inputs) => {
      raw.set(`${type}::${name}`, inputs);
      return gitopsFakeState(type, name, inputs);
    },
    entry: () => {
      const given = overrides({ loaded, plan });
      const args: GitOpsArgs = {
        plan,
        config: loaded.config,
        clusters: "clusters" in given ? given.clusters! : fakeClusters(plan),
        sites: "sites" in given ? given.sites! : fakeSites(plan),
        archiveSeparation:
          "archiveSeparation" in given
            ? given.archiveSeparation!
            : archiveSeparation(plan, loaded.config.audit.archive, readProjectPlan()),
      };
      const deployKey =
        "deployKeyPrivatePem" in given ? given.deployKeyPrivatePem : pulumi.secret("FAKE-DEPLOY-KEY-PEM");
      if (deployKey !== undefined) args.deployKeyPrivatePem = deployKey;
      result = deployGitOps(args);
      return Promise.resolve(result ?? {});
    },
  });
  const revealed = (type: string, name: string) => {
    const inputs = raw.get(`${type}::${name}`);
    if (!inputs) throw new Error(`no resource ${type} named ${name} was registered`);
    return revealSecrets(inputs) as RevealedInputs;
  };
  return { ...run, result, revealed };
}

/** Every custom resource of a run as a policy judges it, secrets unwrapped. */
export function policyResourcesOf(run: GitOpsRun): PolicyResource[] {
  return run.resources
    .filter((r) => r.custom)
    .map((r) => ({ type: r.type, name: r.name, props: run.revealed(r.type, r.name) ?? r.inputs }));
}

/** A copy of `resources` in which each one `pick` selects has its props cloned, then changed by `change`. */
export function withEditedProps(
  resources: readonly PolicyResource[],
  pick: (r: PolicyResource) => boolean,
  change: (props: RevealedInputs) => void,
): PolicyResource[] {
  return resources.map((r) => {
    if (!pick(r)) return r;
    const props = structuredClone(r.props) as RevealedInputs;
    change(props);
    return { ...r, props };
  });
}
