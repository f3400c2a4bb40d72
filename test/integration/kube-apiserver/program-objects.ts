/**
 * What the program renders for one cluster of a committed stack, taken from a
 * real run of the program under mocks (as synth runs it, secrets revealed as
 * CrossGuard sees them): the API server's audit policy, its
 * AuthenticationConfiguration and bootstrap manifests, read back from the
 * control-plane machine config the program puts into the node's user data,
 * and the Kubernetes objects the program would apply to that cluster.
 */
import { parse as parseYaml } from "yaml";
import { loadPlatformConfig, readAddressPlan } from "../../../config/load";
import { AUTHENTICATION_CONFIG, type MachineConfig } from "../../../components/talos/machine-config";
import { policyResources } from "../../../synth/policy-input";
import { readStackFile } from "../../../config/stack-file";
import { revealedProgramRun } from "../../support/program-run";
import { stackFilePath } from "../../support/stacks";

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string>; [key: string]: unknown };
  [key: string]: unknown;
}

export interface ProgramObject {
  /** Pulumi type, e.g. `kubernetes:core/v1:Secret`. */
  type: string;
  /** Pulumi resource name. */
  name: string;
  object: KubeObject;
}

export interface RenderedCluster {
  stack: string;
  cluster: string;
  kubernetesVersion: string;
  machineConfig: MachineConfig;
  auditPolicy: unknown;
  authenticationConfiguration: {
    apiVersion: string;
    kind: string;
    jwt: { issuer: { url: string; audiences: string[]; certificateAuthority?: string }; [key: string]: unknown }[];
  };
  /** Every Kubernetes resource the program registers with this cluster's provider. */
  objects: ProgramObject[];
  zitadel: {
    issuer: string;
    kubernetesClientId: string;
    groupsPrefix: string;
    platformGroup: string;
    auditorGroup: string;
    breakGlassGroup: string;
  };
}

/** The Kubernetes client id (audience) a committed stack file declares. */
export function kubernetesClientIdOf(stack: string): string {
  const { config } = loadPlatformConfig(readStackFile(stackFilePath(stack), stack), readAddressPlan());
  return config.zitadel.kubernetesClientId;
}

export async function renderedCluster(stack: string, cluster: string): Promise<RenderedCluster> {
  const { run, revealed, config } = await revealedProgramRun(stackFilePath(stack), stack);
  const resources = policyResources(run.resources, revealed, stack);
  const controlPlane = resources.find(
    (r) => r.type === "openstack:compute/instance:Instance" && r.name === `${cluster}-cp-0`,
  );
  if (!controlPlane || typeof controlPlane.props.userData !== "string") {
    throw new Error(`${stack}: no control-plane instance ${cluster}-cp-0 with user data`);
  }
  const machineConfig = parseYaml(controlPlane.props.userData) as MachineConfig;
  const authPath = `${AUTHENTICATION_CONFIG.hostDir}/${AUTHENTICATION_CONFIG.file}`;
  const authFile = machineConfig.machine.files?.find((f) => f.path === authPath);
  if (!authFile) throw new Error(`${cluster}: the machine config writes no ${authPath}`);
  const auditPolicy = machineConfig.cluster.apiServer?.auditPolicy;
  if (!auditPolicy) throw new Error(`${cluster}: the machine config has no audit policy`);

  const providerRef = `::${cluster}-k8s::`;
  const objects: ProgramObject[] = [];
  run.resources.forEach((recorded, i) => {
    if (!recorded.type.startsWith("kubernetes:") || recorded.type.startsWith("pulumi:providers:")) return;
    if (!(recorded.provider ?? "").includes(providerRef)) return;
    objects.push({ type: recorded.type, name: recorded.name, object: resources[i]!.props as unknown as KubeObject });
  });
  return {
    stack,
    cluster,
    kubernetesVersion: config.clusters.kubernetesVersion,
    machineConfig,
    auditPolicy,
    authenticationConfiguration: parseYaml(authFile.content) as RenderedCluster["authenticationConfiguration"],
    objects,
    zitadel: config.zitadel,
  };
}
