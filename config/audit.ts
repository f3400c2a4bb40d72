/**
 * The audit pipeline's part of the stack-file schema (config/schema.ts): the
 * object-lock archive, the optional SIEM forward and the pinned charts.
 */
import { z } from "zod";
import { siteNameString } from "../plan/address-plan";
import { keystoneProjectId } from "../plan/project-plan";
import { siemAuthSchema } from "./siem-auth";
import { chartRefSchema, httpsUrl } from "./scalars";

export const auditArchiveSchema = z.strictObject({
  /** S3-compatible endpoint of the site's object storage (Ceph RGW). */
  endpoint: httpsUrl,
  site: siteNameString,
  bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, {
    message: "expected an S3 bucket name",
  }),
  /**
   * Keystone project id per cluster name: the identity its collector writes
   * with, allowed only to put under `<cluster>/`. Never the deploy project.
   */
  writerProjects: z.record(z.string(), keystoneProjectId),
});

export const siemSchema = z.strictObject({
  endpoint: httpsUrl,
  format: z.enum(["json", "cef"]).default("json"),
  /** How the SIEM authenticates the collectors; the credential itself is the secret key siemToken. */
  auth: siemAuthSchema.optional(),
});

/** Charts of the audit pipeline; pinned so an upgrade is a reviewed stack-file change. */
const AUDIT_CHART_DEFAULTS = {
  loki: { repository: "https://grafana.github.io/helm-charts", version: "6.44.0" },
  grafana: { repository: "https://grafana.github.io/helm-charts", version: "10.1.2" },
  collector: { repository: "https://helm.vector.dev", version: "0.40.0" },
};

export const auditChartsSchema = z.strictObject({
  loki: chartRefSchema.default(AUDIT_CHART_DEFAULTS.loki),
  grafana: chartRefSchema.default(AUDIT_CHART_DEFAULTS.grafana),
  collector: chartRefSchema.default(AUDIT_CHART_DEFAULTS.collector),
});

export const auditSchema = z
  .strictObject({
    retentionDays: z.number().int().min(1).max(3650).default(30),
    lockDays: z.number().int().min(1).max(3650),
    archive: auditArchiveSchema,
    siem: siemSchema.optional(),
    charts: auditChartsSchema.default(AUDIT_CHART_DEFAULTS),
  })
  .refine((audit) => audit.lockDays >= audit.retentionDays, {
    path: ["lockDays"],
    message: "the object-lock period must be at least the retention period",
  });
