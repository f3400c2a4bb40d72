import { createHash } from "node:crypto";
import * as command from "@pulumi/command";
import * as github from "@pulumi/github";
import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import * as tls from "@pulumi/tls";
import {
  INSTALL_KEY_COMMAND,
  REGISTRAR_USER,
  deployRunnerCloudInit,
  type DeployRunnerCloudInitInput,
} from "./cloud-init";

export interface RunnerGroupArgs {
  /** Every GitHub call goes through this provider; its token comes from GITHUB_TOKEN. */
  provider: github.Provider;
  /** Numeric id of the IaC repository: the only repository the group serves. */
  repositoryId: number;
  /**
   * `owner/repo/.github/workflows/<file>@refs/heads/main` entries, or "any"
   * for a group every workflow of the repository may use (test only: its
   * pull-request previews run from refs that no entry can name).
   */
  selectedWorkflows: readonly string[] | "any";
}

export interface DeployRunnerArgs {
  /** Prefix of every resource name, e.g. `production-osl2-deploy-runner`. */
  prefix: string;
  region: string;
  availabilityZones: readonly string[];
  networkId: pulumi.Input<string>;
  subnetId: pulumi.Input<string>;
  /** One fixed address per runner, from the reserved head of the subnet. */
  addresses: readonly string[];
  /** The `deploy-runner` and `egress` groups. */
  securityGroupIds: pulumi.Input<string>[];
  imageId: string;
  flavor: string;
  /** What every runner's cloud-init needs besides the registrar's public key. */
  runner: Omit<DeployRunnerCloudInitInput, "registrarPublicKey">;
  /** The registrar App's private key; a Pulumi secret. Absent until registration is configured. */
  registrarKey?: pulumi.Output<string>;
  /** The org runner group of this environment; absent when the GitHub layer is off or registration is not configured. */
  runnerGroup?: RunnerGroupArgs;
  provider: openstack.Provider;
  tags: readonly string[];
}

/**
 * One environment's self-hosted deploy runners: instances beside the jump
 * host, in the environment's own network, that run each GitHub Actions job
 * once, in a throw-away sandbox, and register afresh for the next.
 */
export class DeployRunner extends pulumi.ComponentResource {
  readonly instances: openstack.compute.Instance[];
  readonly ports: openstack.networking.Port[];
  readonly runnerGroup?: github.ActionsRunnerGroup;
  readonly keyDeliveries: command.remote.Command[];

  constructor(name: string, args: DeployRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:cicd:DeployRunner", name, {}, opts);
    const { region, provider, prefix } = args;
    const child = { parent: this, provider };
    const tags = [...args.tags, "role:deploy-runner"];

    // Its only use is the forced command that stores the registrar key: the
    // private half stays in state as a secret, the public half in user data.
    const registrarSsh = new tls.PrivateKey(`${prefix}-registrar-ssh`, { algorithm: "ED25519" }, { parent: this });

    const group = new openstack.compute.ServerGroup(
      `${prefix}`,
      { name: prefix, region, policies: ["soft-anti-affinity"] },
      child,
    );

    this.ports = [];
    this.instances = [];
    this.keyDeliveries = [];
    args.addresses.forEach((address, i) => {
      const { port, instance } = buildRunnerInstance(args, i, address, group, registrarSsh, child, tags);
      this.ports.push(port);
      this.instances.push(instance);

      if (args.registrarKey) {
        this.keyDeliveries.push(
          deliverRegistrarKey(this, prefix, i, address, registrarSsh, args.registrarKey, instance),
        );
      }
    });

    if (args.runnerGroup) {
      this.runnerGroup = buildRunnerGroup(this, prefix, args.runner.runnerGroup, args.runnerGroup);
    }

    this.registerOutputs({});
  }
}

/** One runner: its fixed-address port and the instance on it. */
function buildRunnerInstance(
  args: DeployRunnerArgs,
  i: number,
  address: string,
  group: openstack.compute.ServerGroup,
  registrarSsh: tls.PrivateKey,
  child: pulumi.CustomResourceOptions,
  tags: string[],
): { port: openstack.networking.Port; instance: openstack.compute.Instance } {
  const { prefix, region } = args;
  const port = new openstack.networking.Port(
    `${prefix}-${i}`,
    {
      name: `${prefix}-${i}`,
      region,
      networkId: args.networkId,
      fixedIps: [{ subnetId: args.subnetId, ipAddress: address }],
      securityGroupIds: args.securityGroupIds,
      adminStateUp: true,
      tags,
    },
    child,
  );
  const userData = registrarSsh.publicKeyOpenssh.apply((key) =>
    deployRunnerCloudInit({ ...args.runner, registrarPublicKey: key }),
  );
  // Deploys run on these instances, so a deploy must never replace them
  // under itself: new user data or a new image takes effect only when an
  // operator replaces a runner from the jump host. The digest in the
  // metadata (an in-place update) still shows every preview that a
  // runner runs older cloud-init than the code says.
  const instance = new openstack.compute.Instance(
    `${prefix}-${i}`,
    {
      name: `${prefix}-${i}`,
      region,
      availabilityZone: args.availabilityZones[i % args.availabilityZones.length]!,
      flavorName: args.flavor,
      imageId: args.imageId,
      networks: [{ port: port.id }],
      userData,
      schedulerHints: [{ group: group.id }],
      metadata: {
        role: "deploy-runner",
        "runner-label": args.runner.label,
        "user-data-sha256": userData.apply((text) => createHash("sha256").update(text).digest("hex")),
      },
      tags,
    },
    { ...child, ignoreChanges: ["userData", "imageId"] },
  );
  return { port, instance };
}

/** Stores the registrar App's key on one runner through the forced SSH command. */
function deliverRegistrarKey(
  parent: pulumi.Resource,
  prefix: string,
  i: number,
  address: string,
  registrarSsh: tls.PrivateKey,
  registrarKey: pulumi.Output<string>,
  instance: openstack.compute.Instance,
): command.remote.Command {
  // Runs where `pulumi up` runs; only the jump host may open SSH to a
  // runner, so this happens on the operator's up, on create and on rotation.
  const installKey = INSTALL_KEY_COMMAND;
  return new command.remote.Command(
    `${prefix}-${i}-registrar-key`,
    {
      connection: {
        host: address,
        user: REGISTRAR_USER,
        privateKey: pulumi.secret(registrarSsh.privateKeyOpenssh),
        dialErrorLimit: 60,
        perDialTimeout: 10,
      },
      create: installKey,
      update: installKey,
      stdin: pulumi.secret(registrarKey),
      addPreviousOutputInEnv: false,
      logging: "stderr",
      triggers: [instance.id],
    },
    { parent, dependsOn: [instance] },
  );
}

/** The org runner group, limited to the IaC repository and, outside test, to the named workflows. */
function buildRunnerGroup(
  parent: pulumi.Resource,
  prefix: string,
  groupName: string,
  runnerGroup: RunnerGroupArgs,
): github.ActionsRunnerGroup {
  return new github.ActionsRunnerGroup(
    `${prefix}-group`,
    {
      name: groupName,
      visibility: "selected",
      selectedRepositoryIds: [runnerGroup.repositoryId],
      allowsPublicRepositories: false,
      ...(runnerGroup.selectedWorkflows === "any"
        ? { restrictedToWorkflows: false }
        : { restrictedToWorkflows: true, selectedWorkflows: [...runnerGroup.selectedWorkflows] }),
    },
    { parent, provider: runnerGroup.provider },
  );
}
