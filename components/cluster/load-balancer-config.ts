/**
 * cloud-init for the HAProxy pair in front of a cluster's API servers, as a
 * typed document rendered with the yaml package. keepalived moves the VIP
 * between the two; Neutron lets either port carry it through an allowed
 * address pair. VRRP goes unicast: many clouds drop multicast between ports.
 */
import { stringify } from "yaml";
import { parseCidr } from "../../plan/cidr";

export const API_SERVER_PORT = 6443;

export interface LoadBalancerConfigInput {
  clusterName: string;
  vip: string;
  /** Site subnet, for the VIP's prefix length. */
  subnet: string;
  self: string;
  peer: string;
  /** The first of the pair starts as the preferred holder of the VIP. */
  primary: boolean;
  /** Distinct per cluster in one subnet (VRRP instances share the segment). */
  virtualRouterId: number;
  controlPlaneAddresses: readonly string[];
  /** Further TCP services this pair forwards, e.g. the ops cluster's audit-log ingest. */
  passthrough?: readonly PassthroughPort[];
}

export interface PassthroughPort {
  name: string;
  port: number;
  backends: readonly string[];
}

/** Replaced at boot by the interface that carries the default route. */
const INTERFACE_PLACEHOLDER = "@SKE_INTERFACE@";

export function haproxyConfig(input: Pick<LoadBalancerConfigInput, "controlPlaneAddresses" | "passthrough">): string {
  const servers = input.controlPlaneAddresses.map(
    (address, i) => `  server controlplane-${i} ${address}:${API_SERVER_PORT} check`,
  );
  const passthrough = (input.passthrough ?? []).flatMap((service) => [
    `frontend ${service.name}`,
    `  bind :${service.port}`,
    `  default_backend ${service.name}`,
    "",
    `backend ${service.name}`,
    "  balance roundrobin",
    "  default-server inter 5s fall 3 rise 2",
    ...service.backends.map((address, i) => `  server ${service.name}-${i} ${address}:${service.port} check`),
    "",
  ]);
  return [
    "global",
    "  log /dev/log local0",
    "  maxconn 20000",
    "",
    "defaults",
    "  mode tcp",
    "  log global",
    "  option tcplog",
    "  timeout connect 5s",
    // kubectl watches and port-forwards stay open for a long time.
    "  timeout client 1h",
    "  timeout server 1h",
    "",
    "frontend kube-apiserver",
    `  bind :${API_SERVER_PORT}`,
    "  default_backend controlplane",
    "",
    "backend controlplane",
    "  balance roundrobin",
    // Anonymous requests are refused, so health is checked at TCP level.
    "  default-server inter 5s fall 3 rise 2",
    ...servers,
    "",
    ...passthrough,
  ].join("\n");
}

export function keepalivedConfig(input: LoadBalancerConfigInput): string {
  const prefix = parseCidr(input.subnet).prefix;
  if (!Number.isInteger(input.virtualRouterId) || input.virtualRouterId < 1 || input.virtualRouterId > 255) {
    throw new Error(`virtual router id ${input.virtualRouterId} of ${input.clusterName} is outside 1-255`);
  }
  return [
    "global_defs {",
    "  enable_script_security",
    "  script_user root",
    "}",
    "",
    "vrrp_script haproxy_alive {",
    '  script "/usr/bin/systemctl is-active --quiet haproxy"',
    "  interval 2",
    "  fall 2",
    "  rise 2",
    "}",
    "",
    "vrrp_instance kube_api {",
    // Both start as BACKUP; priority decides, so a rebooted primary takes the VIP back only when healthy.
    "  state BACKUP",
    `  interface ${INTERFACE_PLACEHOLDER}`,
    `  virtual_router_id ${input.virtualRouterId}`,
    `  priority ${input.primary ? 150 : 100}`,
    "  advert_int 1",
    `  unicast_src_ip ${input.self}`,
    "  unicast_peer {",
    `    ${input.peer}`,
    "  }",
    "  virtual_ipaddress {",
    `    ${input.vip}/${prefix} dev ${INTERFACE_PLACEHOLDER}`,
    "  }",
    "  track_script {",
    "    haproxy_alive",
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The whole `#cloud-config` user data of one load balancer. */
export function loadBalancerCloudInit(input: LoadBalancerConfigInput): string {
  const document = {
    package_update: true,
    packages: ["haproxy", "keepalived"],
    write_files: [
      // Deferred until after the packages, so their default files never win.
      { path: "/etc/haproxy/haproxy.cfg", permissions: "0644", defer: true, content: haproxyConfig(input) },
      { path: "/etc/keepalived/keepalived.conf", permissions: "0600", defer: true, content: keepalivedConfig(input) },
    ],
    runcmd: [
      [
        "sh",
        "-c",
        `iface=$(ip -o -4 route show default | awk '{print $5; exit}') && sed -i "s/${INTERFACE_PLACEHOLDER}/$iface/g" /etc/keepalived/keepalived.conf`,
      ],
      ["systemctl", "enable", "haproxy", "keepalived"],
      ["systemctl", "restart", "haproxy"],
      ["systemctl", "restart", "keepalived"],
    ],
  };
  return `#cloud-config\n${stringify(document, { lineWidth: 0 })}`;
}
