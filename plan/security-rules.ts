/**
 * Security-group rule tables as plain data. The SiteNetwork component turns
 * these into OpenStack resources one-to-one; tests, synth's matrix and the
 * policies read the same data, so what is reviewed is what is deployed.
 */
import { ANY_IPV4, subtractCidrs } from "./cidr";

export type ClusterId = "ops" | "mgmt";
export type NodeRole = "controlplane" | "worker" | "loadbalancer";
export type ClusterGroupKey = `${ClusterId}-${NodeRole}`;
export type GroupKey = "jumphost" | "egress" | "deploy-runner" | ClusterGroupKey;
export type Protocol = "tcp" | "udp" | "icmp" | "vrrp";

/** Where a CIDR source comes from; the policies allow each origin differently. */
export type CidrOrigin = "ops-site" | "env-site" | "admin" | "exception" | "egress" | "deploy-runner";

export type RulePeer = { kind: "group"; group: GroupKey } | { kind: "cidr"; cidr: string; origin: CidrOrigin };

export interface SecurityGroupSpec {
  key: GroupKey;
  description: string;
}

export interface SecurityRuleSpec {
  /** Unique within a site; becomes part of the resource name. */
  key: string;
  group: GroupKey;
  direction: "ingress" | "egress";
  /** Undefined means any protocol (egress only). */
  protocol?: Protocol;
  ports?: { from: number; to: number };
  peer: RulePeer;
  description: string;
}

interface Service {
  name: string;
  protocol: Protocol;
  ports?: { from: number; to: number };
}

/** NodePort of Loki's audit ingest in the ops cluster, forwarded by its HAProxy pair. */
export const AUDIT_INGEST_PORT = 31100;
/**
 * NodePort of the platform ingest in the ops cluster (metrics remote write and
 * platform logs), forwarded by its HAProxy pair like the audit ingest and
 * admitted from exactly the same peers.
 */
export const PLATFORM_INGEST_PORT = 31101;
/** etcd's plain metrics listener on control-plane nodes (metrics only, never the client API). */
export const ETCD_METRICS_PORT = 2381;

const tcp = (name: string, from: number, to = from): Service => ({ name, protocol: "tcp", ports: { from, to } });

export const SERVICES = {
  ssh: tcp("ssh", 22),
  apid: tcp("talos-apid", 50000),
  trustd: tcp("talos-trustd", 50001),
  apiserver: tcp("kube-apiserver", 6443),
  etcd: tcp("etcd", 2379, 2380),
  kubelet: tcp("kubelet", 10250),
  ciliumHealth: tcp("cilium-health", 4240),
  vxlan: { name: "cilium-vxlan", protocol: "udp", ports: { from: 8472, to: 8472 } },
  icmp: { name: "icmp", protocol: "icmp" },
  vrrp: { name: "vrrp", protocol: "vrrp" },
  auditIngest: tcp("audit-ingest", AUDIT_INGEST_PORT),
  platformIngest: tcp("platform-ingest", PLATFORM_INGEST_PORT),
  etcdMetrics: tcp("etcd-metrics", ETCD_METRICS_PORT),
} satisfies Record<string, Service>;

export interface PublicExceptionInput {
  name: string;
  reason: string;
  group: "jumphost" | "loadbalancer";
  protocol: "tcp" | "udp";
  port: number;
  cidr: string;
}

export interface SiteRuleInput {
  /** Clusters that run in this site. */
  clusters: readonly ClusterId[];
  /** Whether the environment's ops cluster runs in this site. */
  opsInSite: boolean;
  /** The ops site's subnet: the source of ops traffic seen from other sites. */
  opsSiteSubnet: string;
  /** Subnets of this environment's other sites, whose clusters ship audit logs here when the ops cluster is here. */
  otherSiteSubnets: readonly string[];
  adminCidrs: readonly string[];
  publicExceptions: readonly PublicExceptionInput[];
  /** Every other environment's supernet; egress to them is never allowed. */
  foreignSupernets: readonly string[];
}

export interface SiteSecurityTable {
  groups: SecurityGroupSpec[];
  rules: SecurityRuleSpec[];
}

const group = (key: GroupKey): RulePeer => ({ kind: "group", group: key });

/** One ingress rule, keyed by target, service and peer so its key is stable. */
function ingressRule(target: GroupKey, service: Service, peer: RulePeer, why: string): SecurityRuleSpec {
  const from = peer.kind === "group" ? peer.group : peer.origin === "exception" ? `exception` : peer.origin;
  const cidrSuffix = peer.kind === "cidr" ? `-${peer.cidr.replace(/[./]/g, "-")}` : "";
  return {
    key: `${target}-in-${service.name}-from-${from}${cidrSuffix}`,
    group: target,
    direction: "ingress",
    protocol: service.protocol,
    ...(service.ports ? { ports: service.ports } : {}),
    peer,
    description: `${service.name}: ${why}`,
  };
}

export function siteSecurityTable(input: SiteRuleInput): SiteSecurityTable {
  const groups: SecurityGroupSpec[] = [
    { key: "jumphost", description: "Jump host: SSH from admin ranges only" },
    { key: "egress", description: "Egress anywhere except other environments' address space; carried by every port" },
  ];
  const rules: SecurityRuleSpec[] = [];
  const allow = (target: GroupKey, service: Service, peer: RulePeer, why: string) => {
    rules.push(ingressRule(target, service, peer, why));
  };

  for (const cluster of input.clusters) addClusterRules(cluster, input, groups, allow);

  for (const cidr of input.adminCidrs) {
    allow("jumphost", SERVICES.ssh, { kind: "cidr", cidr, origin: "admin" }, "operators' admin range");
  }

  for (const exception of input.publicExceptions) {
    const targets: GroupKey[] =
      exception.group === "jumphost" ? ["jumphost"] : input.clusters.map((c): GroupKey => `${c}-loadbalancer`);
    for (const target of targets) {
      const service: Service = {
        name: exception.name,
        protocol: exception.protocol,
        ports: { from: exception.port, to: exception.port },
      };
      allow(
        target,
        service,
        { kind: "cidr", cidr: exception.cidr, origin: "exception" },
        `exception: ${exception.reason}`,
      );
    }
  }

  for (const cidr of egressCidrs(input.foreignSupernets)) {
    rules.push({
      key: `egress-out-to-${cidr.replace(/[./]/g, "-")}`,
      group: "egress",
      direction: "egress",
      peer: { kind: "cidr", cidr, origin: "egress" },
      description: "egress anywhere except other environments",
    });
  }

  return { groups, rules };
}

type Allow = (target: GroupKey, service: Service, peer: RulePeer, why: string) => void;

/** One cluster's three groups, the traffic between them, and who may reach them from outside the cluster. */
function addClusterRules(cluster: ClusterId, input: SiteRuleInput, groups: SecurityGroupSpec[], allow: Allow): void {
  const cp: GroupKey = `${cluster}-controlplane`;
  const worker: GroupKey = `${cluster}-worker`;
  const lb: GroupKey = `${cluster}-loadbalancer`;
  groups.push(
    { key: cp, description: `${cluster} cluster control-plane nodes` },
    { key: worker, description: `${cluster} cluster worker nodes` },
    { key: lb, description: `${cluster} cluster HAProxy pair in front of the Kubernetes API` },
  );

  // Inside the cluster, peers are named by group, never by address.
  for (const s of [
    SERVICES.apid,
    SERVICES.trustd,
    SERVICES.apiserver,
    SERVICES.etcd,
    SERVICES.kubelet,
    SERVICES.vxlan,
    SERVICES.ciliumHealth,
    SERVICES.icmp,
  ]) {
    allow(cp, s, group(cp), "between control-plane nodes");
  }
  for (const s of [SERVICES.trustd, SERVICES.apiserver, SERVICES.vxlan, SERVICES.ciliumHealth, SERVICES.icmp]) {
    allow(cp, s, group(worker), "workers join and talk to the control plane");
  }
  for (const s of [SERVICES.apid, SERVICES.kubelet, SERVICES.vxlan, SERVICES.ciliumHealth, SERVICES.icmp]) {
    allow(worker, s, group(cp), "the control plane manages workers");
  }
  for (const s of [SERVICES.kubelet, SERVICES.vxlan, SERVICES.ciliumHealth, SERVICES.icmp]) {
    allow(worker, s, group(worker), "between workers");
  }
  allow(cp, SERVICES.apiserver, group(lb), "HAProxy forwards to the API servers");
  // The cluster's own metrics agent (on its workers) scrapes etcd's metrics listener; nobody else does.
  allow(cp, SERVICES.etcdMetrics, group(worker), "the cluster's metrics agent scrapes etcd's metrics");
  allow(lb, SERVICES.vrrp, group(lb), "keepalived moves the VIP between the pair");

  // The Kubernetes API only through the load balancers; Talos only from the jump host.
  allow(lb, SERVICES.apiserver, group("jumphost"), "operators reach the API through the jump host");
  allow(cp, SERVICES.apid, group("jumphost"), "talosctl runs on the jump host");
  allow(worker, SERVICES.apid, group("jumphost"), "talosctl runs on the jump host");

  if (cluster === "ops") {
    // Management clusters ship their apiserver audit logs to Loki in the ops cluster.
    allow(worker, SERVICES.auditIngest, group(lb), "HAProxy forwards audit logs to Loki's NodePort");
    allow(
      lb,
      SERVICES.auditIngest,
      group("mgmt-controlplane"),
      "audit-log collectors of this site's management cluster",
    );
    for (const cidr of input.otherSiteSubnets) {
      allow(
        lb,
        SERVICES.auditIngest,
        { kind: "cidr", cidr, origin: "env-site" },
        "audit-log collectors of another site's management cluster",
      );
    }
    // Metrics and platform logs take the same narrow path as the audit ingest.
    for (const rule of platformIngestRules(input)) allow(rule.target, SERVICES.platformIngest, rule.peer, rule.why);
  }

  if (cluster === "mgmt") {
    if (input.opsInSite) {
      allow(lb, SERVICES.apiserver, group("ops-worker"), "Argo CD in the ops cluster deploys here");
      allow(lb, SERVICES.apiserver, group("ops-controlplane"), "the ops cluster's control plane reaches this API");
    } else {
      // Remote groups cannot cross regions, so the ops site is named by its planned subnet.
      allow(
        lb,
        SERVICES.apiserver,
        { kind: "cidr", cidr: input.opsSiteSubnet, origin: "ops-site" },
        "Argo CD in the ops cluster (other site) deploys here",
      );
    }
  }
}

/** Who may reach the platform ingest: the peers of the audit ingest, nobody else. */
function platformIngestRules(input: SiteRuleInput): { target: GroupKey; peer: RulePeer; why: string }[] {
  return [
    {
      target: "ops-worker",
      peer: group("ops-loadbalancer"),
      why: "HAProxy forwards metrics and platform logs to the gateway's NodePort",
    },
    {
      target: "ops-loadbalancer",
      peer: group("mgmt-controlplane"),
      why: "metrics and log collectors on this site's management control plane",
    },
    // Unlike the audit log, platform logs and scrapes also come from the workers (Cluster API controllers run there).
    {
      target: "ops-loadbalancer",
      peer: group("mgmt-worker"),
      why: "metrics and log collectors on this site's management workers",
    },
    ...input.otherSiteSubnets.map((cidr) => ({
      target: "ops-loadbalancer" as const,
      peer: { kind: "cidr", cidr, origin: "env-site" } as const,
      why: "metrics and log collectors of another site's management cluster",
    })),
  ];
}

/** The whole IPv4 space minus every other environment's supernet. */
export function egressCidrs(foreignSupernets: readonly string[]): string[] {
  return subtractCidrs(ANY_IPV4, foreignSupernets);
}

/** Which groups a node of a given role carries. */
export function portGroups(cluster: ClusterId, role: NodeRole): GroupKey[] {
  return [`${cluster}-${role}`, "egress"];
}

export const JUMPHOST_GROUPS: GroupKey[] = ["jumphost", "egress"];
