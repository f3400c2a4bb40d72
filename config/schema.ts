import { z } from "zod";
import { ENVIRONMENTS, cidrString, siteNameString } from "../plan/address-plan";
import { cidrProblem } from "../plan/cidr";
import { addRefusals } from "./refusals";
import { rolloutIssues, rolloutSchema } from "./rollout";
import { backupIssues, backupsSchema } from "./backups";
import { clusterApiSiteSchema } from "./cluster-api";
import { httpsUrl, ipv4, name, port, semver, uuid } from "./scalars";
import { deployRunnerIssues, deployRunnersSchema } from "./runners";
import { monitoringSchema } from "./monitoring";
import { auditSchema } from "./audit";

// The runners' and the central view's schemas live in config/runners.ts and
// config/monitoring.ts, the audit pipeline's in config/audit.ts, the value
// types in config/scalars.ts.
export { deployRunnersSchema, runnerToolsSchema, type DeployRunnersConfig } from "./runners";
export { monitoringSchema } from "./monitoring";
export { auditArchiveSchema, auditChartsSchema, auditSchema, siemSchema } from "./audit";

/**
 * The one schema for everything a `Pulumi.<env>.yaml` holds under the
 * `ske-platform:` namespace. Every object is strict, so a misspelt key is an
 * error rather than a silently ignored setting. Credentials are deliberately
 * absent: OpenStack reads OS_* / clouds.yaml and GitHub reads GITHUB_TOKEN.
 */

export const flavorsSchema = z.strictObject({
  controlPlane: z.string().min(1),
  worker: z.string().min(1),
  loadBalancer: z.string().min(1),
  jumpHost: z.string().min(1),
});

export const nodeCountsSchema = z.strictObject({
  /** etcd needs an odd quorum; 1 is only for throw-away clusters. */
  controlPlane: z.union([z.literal(1), z.literal(3), z.literal(5)]).default(3),
  worker: z.number().int().min(1).max(100),
});

export const floatingIpsSchema = z.strictObject({
  jumpHost: z.boolean().default(false),
  loadBalancers: z.boolean().default(false),
});

export const siteSchema = z.strictObject({
  /** OpenStack region of this site; each site is its own region. */
  region: z.string().min(1),
  /** Optional clouds.yaml entry; without it the provider reads OS_* variables. */
  cloud: z.string().min(1).optional(),
  availabilityZones: z.array(z.string().min(1)).min(1),
  /** IDs, not names: preview must not need a lookup against the cloud. */
  externalNetworkId: uuid,
  talosImageId: uuid,
  jumpHostImageId: uuid,
  /** Must equal this site's entry in address-plan.yaml. */
  subnet: cidrString,
  dnsNameservers: z.array(ipv4).default([]),
  flavors: flavorsSchema,
  /** Node counts of this site's management cluster. */
  nodes: nodeCountsSchema,
  floatingIps: floatingIpsSchema.default({ jumpHost: false, loadBalancers: false }),
  /**
   * Name of the external network, needed only for floating IPs: Neutron
   * allocates them from a pool named, not identified.
   */
  externalNetworkName: z.string().min(1).optional(),
  /** Existing Nova keypair for SSH to the jump host and the load balancers. */
  keyPair: z.string().min(1).optional(),
  /** Cluster API on this site's management cluster: its project and credential generation (config/cluster-api.ts). */
  clusterApi: clusterApiSiteSchema.optional(),
});

export const opsClusterSchema = z.strictObject({
  site: siteNameString,
  nodes: nodeCountsSchema,
});

export const clustersSchema = z.strictObject({
  ops: opsClusterSchema,
  talosVersion: semver,
  kubernetesVersion: semver,
  ciliumChartVersion: semver,
});

export const publicExceptionSchema = z.strictObject({
  /** Shown in the rule's description and in the security-group matrix. */
  name: name,
  reason: z.string().min(10, { message: "say why this exception exists (at least 10 characters)" }),
  group: z.enum(["jumphost", "loadbalancer"]),
  protocol: z.enum(["tcp", "udp"]),
  port: port,
  cidr: cidrString,
});

export const accessSchema = z.strictObject({
  /** Operator networks (VPN, office) that may open SSH to the jump hosts. */
  adminCidrs: z.array(cidrString).min(1),
  /** Named, documented openings wider than the address plan. */
  publicExceptions: z.array(publicExceptionSchema).default([]),
});

export const githubSchema = z.strictObject({
  owner: name,
  iacRepository: name,
  gitopsRepository: name,
  team: name,
  /**
   * The team's numeric id (`gh api orgs/<owner>/teams/<team> --jq .id`).
   * Environment reviewers take ids only; having it here keeps preview free
   * of any GitHub lookup.
   */
  teamId: z.number().int().positive(),
  requiredApprovals: z.number().int().min(1).max(6).default(1),
  /** Status checks the GitOps repository's own CI reports; its workflows live there, not here. */
  gitopsRequiredChecks: z.array(z.string().min(1)).default([]),
  /** Exactly one stack owns repository-wide settings (branch protection, team access). */
  ownsRepositorySettings: z.boolean().default(false),
});

export const argocdSchema = z.strictObject({
  chartRepository: httpsUrl.default("https://argoproj.github.io/argo-helm"),
  chartVersion: semver,
  namespace: name.default("argocd"),
});

export const zitadelSchema = z
  .strictObject({
    issuer: httpsUrl,
    kubernetesClientId: z.string().min(1),
    argocdClientId: z.string().min(1),
    grafanaClientId: z.string().min(1),
    groupsClaim: z.string().min(1).default("groups"),
    groupsPrefix: z.string().min(1).default("zitadel:"),
    requireMfa: z.boolean().default(true),
    platformGroup: z.string().min(1),
    auditorGroup: z.string().min(1),
    /** Cluster-admin for incidents, behind MFA (docs/operations/break-glass.md); never the everyday group. */
    breakGlassGroup: z.string().min(1).default("platform-break-glass"),
  })
  .refine((z) => z.breakGlassGroup !== z.platformGroup && z.breakGlassGroup !== z.auditorGroup, {
    path: ["breakGlassGroup"],
    message:
      "the break-glass group must be a group of its own, not platformGroup or auditorGroup: membership in it is cluster-admin",
  });

export const protectionSchema = z.strictObject({
  /** Sets `protect` and `retainOnDelete` on control planes and machine secrets. */
  statefulResources: z.boolean(),
  /** Production refuses statefulResources: false unless this is true. */
  allowUnprotectedProduction: z.boolean().default(false),
});

export const platformConfigSchema = z
  .strictObject({
    environment: z.enum(ENVIRONMENTS),
    sites: z.record(siteNameString, siteSchema).refine((s) => Object.keys(s).length > 0, {
      message: "at least one site is required",
    }),
    clusters: clustersSchema,
    access: accessSchema,
    github: githubSchema,
    argocd: argocdSchema,
    zitadel: zitadelSchema,
    audit: auditSchema,
    // prefault: an absent section is parsed as {}, so its defaults are written once, in config/monitoring.ts.
    monitoring: monitoringSchema.prefault({}),
    protection: protectionSchema,
    /** etcd snapshots of every cluster to its site's object storage; required in production and staging. */
    backups: backupsSchema.optional(),
    /** Required while the clusters layer is on: deploys need a runner inside the environment. */
    runners: deployRunnersSchema.optional(),
    /** The registrar GitHub App's private key (PEM); set with `pulumi config set --secret`, never plain. */
    runnerRegistrarKey: z.string().min(1).optional(),
    /** The SIEM's credential: set with `pulumi config set --secret siemToken`, never in plain text. */
    siemToken: z.string().min(1).optional(),
    /** Day 2: what is deployed, worker batch size, drained sites (config/rollout.ts). */
    rollout: rolloutSchema.optional(),
    /** Layers a lab or partial deployment may switch off; everything is on by default. */
    layers: z
      .strictObject({
        clusters: z.boolean().default(true),
        bootstrap: z.boolean().default(true),
        kubernetes: z.boolean().default(true),
        github: z.boolean().default(true),
      })
      .default({ clusters: true, bootstrap: true, kubernetes: true, github: true }),
  })
  .superRefine((config, ctx) => {
    const sites = Object.keys(config.sites);
    if (config.environment === "production") {
      for (const required of ["osl2", "sto2"]) {
        if (!sites.includes(required)) {
          ctx.addIssue({
            code: "custom",
            path: ["sites"],
            message: `production must run in site ${required} (sites: ${sites.join(", ")})`,
          });
        }
      }
    }
    if (!sites.includes(config.clusters.ops.site)) {
      ctx.addIssue({
        code: "custom",
        path: ["clusters", "ops", "site"],
        message: `"${config.clusters.ops.site}" is not one of the configured sites (${sites.join(", ")})`,
      });
    }
    if (!sites.includes(config.audit.archive.site)) {
      ctx.addIssue({
        code: "custom",
        path: ["audit", "archive", "site"],
        message: `"${config.audit.archive.site}" is not one of the configured sites (${sites.join(", ")})`,
      });
    }
    if (
      config.environment === "production" &&
      !config.protection.statefulResources &&
      !config.protection.allowUnprotectedProduction
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["protection", "statefulResources"],
        message:
          "production keeps stateful resources protected; set protection.allowUnprotectedProduction: true to override on purpose",
      });
    }
    for (const [siteName, site] of Object.entries(config.sites)) {
      if ((site.floatingIps.jumpHost || site.floatingIps.loadBalancers) && !site.externalNetworkName) {
        ctx.addIssue({
          code: "custom",
          path: ["sites", siteName, "externalNetworkName"],
          message: "floating IPs are requested in this site; name the external network they come from",
        });
      }
    }
    deployRunnerIssues(config).forEach((issue) => ctx.addIssue({ code: "custom", ...issue }));
    backupIssues(config).forEach((issue) => ctx.addIssue({ code: "custom", ...issue }));
    config.access.adminCidrs.forEach((cidr, i) => {
      if (!cidrProblem(cidr) && cidr.endsWith("/0")) {
        ctx.addIssue({
          code: "custom",
          path: ["access", "adminCidrs", i],
          message: "an admin range cannot be the whole internet; declare a named access.publicExceptions entry instead",
        });
      }
    });
    addRefusals(config, ctx);
    rolloutIssues(config).forEach((issue) => ctx.addIssue({ code: "custom", ...issue }));
  });

export type PlatformConfig = z.infer<typeof platformConfigSchema>;
export type SiteConfig = z.infer<typeof siteSchema>;
export type PublicException = z.infer<typeof publicExceptionSchema>;
export type NodeCounts = z.infer<typeof nodeCountsSchema>;

export { CONFIG_NAMESPACE } from "./namespace";
