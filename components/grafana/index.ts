import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import { grafanaValues, type CentralViewInput, type GrafanaSsoSettings } from "./values";
import { withResources } from "../../plan/workload-resources";

export * from "./values";

export interface GrafanaArgs {
  chart: { repository: string; version: string };
  namespace: string;
  rootUrl: string;
  lokiUrl: pulumi.Input<string>;
  sso: GrafanaSsoSettings;
  centralView?: CentralViewInput;
  /** Provider of the ops cluster, where the monitoring stack lives. */
  provider: k8s.Provider;
}

/**
 * Grafana in the ops cluster, the auditors' window on the audit logs: SSO
 * through Zitadel only, Viewer for auditors, Admin for the platform team.
 */
export class Grafana extends pulumi.ComponentResource {
  readonly release: k8s.helm.v3.Release;

  constructor(name: string, args: GrafanaArgs, opts?: pulumi.ComponentResourceOptions) {
    super("ske:monitoring:Grafana", name, {}, opts);
    const child = { parent: this, provider: args.provider };
    this.release = new k8s.helm.v3.Release(
      `${name}-grafana`,
      {
        name: "grafana",
        chart: "grafana",
        version: args.chart.version,
        repositoryOpts: { repo: args.chart.repository },
        namespace: args.namespace,
        createNamespace: true,
        values: pulumi.output(args.lokiUrl).apply((lokiUrl) =>
          withResources(
            "grafana",
            grafanaValues({
              sso: args.sso,
              rootUrl: args.rootUrl,
              lokiUrl,
              ...(args.centralView ? { centralView: args.centralView } : {}),
            }),
          ),
        ),
        atomic: true,
      },
      child,
    );
    this.registerOutputs({});
  }
}
