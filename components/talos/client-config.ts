/**
 * Client configurations built from our own CAs and client certificates, so
 * nothing has to be fetched from a running cluster. Pure renderers.
 */
import { stringify } from "yaml";
import { b64 } from "../../plan/base64";

export interface ClientCredentials {
  caCertPem: string;
  clientCertPem: string;
  clientKeyPem: string;
}

export function renderKubeconfig(
  args: { clusterName: string; endpoint: string; user: string } & ClientCredentials,
): string {
  const context = `${args.user}@${args.clusterName}`;
  return stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [
        {
          name: args.clusterName,
          cluster: { server: args.endpoint, "certificate-authority-data": b64(args.caCertPem) },
        },
      ],
      users: [
        {
          name: args.user,
          user: { "client-certificate-data": b64(args.clientCertPem), "client-key-data": b64(args.clientKeyPem) },
        },
      ],
      contexts: [{ name: context, context: { cluster: args.clusterName, user: args.user } }],
      "current-context": context,
    },
    { lineWidth: 0 },
  );
}

/** A talosconfig; endpoints and nodes are the control-plane addresses (apid). */
export function renderTalosconfig(
  args: { clusterName: string; endpoints: readonly string[] } & ClientCredentials,
): string {
  return stringify(
    {
      context: args.clusterName,
      contexts: {
        [args.clusterName]: {
          endpoints: [...args.endpoints],
          nodes: [...args.endpoints],
          ca: b64(args.caCertPem),
          crt: b64(args.clientCertPem),
          key: b64(args.clientKeyPem),
        },
      },
    },
    { lineWidth: 0 },
  );
}
