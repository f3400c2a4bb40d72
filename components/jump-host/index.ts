import * as openstack from "@pulumi/openstack";
import * as pulumi from "@pulumi/pulumi";
import { stringify } from "yaml";

export interface JumpHostArgs {
  /** Prefix of every resource name, e.g. `production-osl2`. */
  prefix: string;
  region: string;
  availabilityZone: string;
  networkId: pulumi.Input<string>;
  subnetId: pulumi.Input<string>;
  /** The `jumphost` and `egress` groups. */
  securityGroupIds: pulumi.Input<string>[];
  imageId: string;
  flavor: string;
  keyPair?: string;
  /** External network name; set only where config asks for a floating IP. */
  floatingIpPool?: string;
  provider: openstack.Provider;
  tags: readonly string[];
}

/**
 * SSH hardening only. talosctl and kubectl are not installed here: the
 * program runs offline and pins no download source, so operators install
 * the versions of `clusters.talosVersion`/`kubernetesVersion` themselves.
 * The jump host is also where `pulumi up` runs for the bootstrap, since
 * only it may reach the Talos API of the nodes.
 */
export function jumpHostCloudInit(): string {
  const document = {
    package_update: true,
    package_upgrade: true,
    ssh_pwauth: false,
    disable_root: true,
    write_files: [
      {
        path: "/etc/ssh/sshd_config.d/50-ske.conf",
        permissions: "0644",
        content: [
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "PermitRootLogin no",
          "AllowAgentForwarding no",
          "",
        ].join("\n"),
      },
    ],
    runcmd: [["systemctl", "restart", "ssh"]],
  };
  return `#cloud-config\n${stringify(document, { lineWidth: 0 })}`;
}

/** One site's jump host: the only way in to the nodes' Talos API and the API VIPs. */
export class JumpHost extends pulumi.ComponentResource {
  readonly instance: openstack.compute.Instance;
  readonly address: pulumi.Output<string>;
  readonly floatingIp?: pulumi.Output<string>;

  constructor(name: string, args: JumpHostArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:access:JumpHost", name, {}, opts);
    const { region, provider } = args;
    const child = { parent: this, provider };
    const tags = [...args.tags, "role:jumphost"];

    const port = new openstack.networking.Port(
      `${args.prefix}-jumphost`,
      {
        name: `${args.prefix}-jumphost`,
        region,
        networkId: args.networkId,
        fixedIps: [{ subnetId: args.subnetId }],
        securityGroupIds: args.securityGroupIds,
        adminStateUp: true,
        tags,
      },
      child,
    );
    this.address = port.allFixedIps.apply((ips) => ips[0]!);

    this.instance = new openstack.compute.Instance(
      `${args.prefix}-jumphost`,
      {
        name: `${args.prefix}-jumphost`,
        region,
        availabilityZone: args.availabilityZone,
        flavorName: args.flavor,
        imageId: args.imageId,
        ...(args.keyPair ? { keyPair: args.keyPair } : {}),
        networks: [{ port: port.id }],
        userData: jumpHostCloudInit(),
        metadata: { role: "jumphost" },
        tags,
      },
      child,
    );

    if (args.floatingIpPool) {
      const fip = new openstack.networking.FloatingIp(
        `${args.prefix}-jumphost-fip`,
        {
          region,
          pool: args.floatingIpPool,
          portId: port.id,
          description: `jump host of ${args.prefix}`,
          tags,
        },
        child,
      );
      this.floatingIp = fip.address;
    }

    this.registerOutputs({ address: this.address });
  }
}
