/**
 * Helm values of the loki chart: one binary, audit logs only, kept for the
 * configured retention and never deletable through Loki's API. Pure.
 */

export interface LokiValuesInput {
  retentionDays: number;
  /** Retention of the platform-logs tenant; the audit tenant keeps `retentionDays`. */
  platformLogRetentionDays?: number;
  /** Persistent volume of the single binary; sized for the retention. */
  storageSize: string;
}

export const LOKI_HTTP_PORT = 3100;

export function retentionPeriod(days: number): string {
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`audit.retentionDays must be a positive integer, got ${days}`);
  return `${days * 24}h`;
}

export function lokiValues(input: LokiValuesInput) {
  return {
    deploymentMode: "SingleBinary" as const,
    loki: {
      // Two tenants, set by the gateways and never by a collector: "audit" and
      // "platform". A platform-log credential cannot write into the audit stream.
      auth_enabled: true,
      commonConfig: { replication_factor: 1 },
      storage: { type: "filesystem" as const },
      schemaConfig: {
        configs: [
          {
            from: "2025-01-01",
            store: "tsdb",
            object_store: "filesystem",
            schema: "v13",
            index: { prefix: "index_", period: "24h" },
          },
        ],
      },
      limits_config: {
        retention_period: retentionPeriod(input.retentionDays),
        // Audit logs are evidence: nobody deletes them early through the API.
        deletion_mode: "disabled",
        reject_old_samples: true,
        reject_old_samples_max_age: "168h",
      },
      // Platform logs keep their own, usually shorter, retention; audit keeps the default above.
      ...(input.platformLogRetentionDays !== undefined
        ? {
            runtimeConfig: {
              overrides: { platform: { retention_period: retentionPeriod(input.platformLogRetentionDays) } },
            },
          }
        : {}),
      // Retention is applied by the compactor; without this it is never enforced.
      compactor: {
        retention_enabled: true,
        delete_request_store: "filesystem",
        working_directory: "/var/loki/compactor",
      },
    },
    singleBinary: { replicas: 1, persistence: { enabled: true, size: input.storageSize } },
    read: { replicas: 0 },
    write: { replicas: 0 },
    backend: { replicas: 0 },
    gateway: { enabled: false },
    chunksCache: { enabled: false },
    resultsCache: { enabled: false },
    lokiCanary: { enabled: false },
    test: { enabled: false },
    minio: { enabled: false },
  };
}

export type LokiValues = ReturnType<typeof lokiValues>;
