/**
 * The pre-flight's data sources answered by the lab's real APIs (Nova with
 * the fake driver, Glance, Neutron), with a deployer's project-scoped token.
 *
 * The real provider plugin cannot be had here (the Go module proxy refuses
 * pulumi-openstack/provider/v3), so this makes the REST calls the provider's
 * data sources make, and reports "not found" in the provider's words. The
 * program's own pre-flight (stacks/preflight.ts) then judges real flavors,
 * images, zones and quotas.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { CloudAnswer } from "../../synth/fake-preflight";
import { sessionOf, type LabInfo, type Session } from "./lab";

/** The provider's own words for "nothing matched". */
const NO_RESULTS = "Your query returned no results. Please change your search criteria and try again.";
const invokeError = (message: string) => Object.assign(new Error(message), { details: message });

/** A password token scoped to one project, as the provider's OS_* credentials get one. */
export async function projectSession(
  lab: LabInfo,
  user: { name: string; password: string },
  projectId: string,
): Promise<Session> {
  const response = await fetch(`${lab.keystoneUrl}/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      auth: {
        identity: {
          methods: ["password"],
          password: { user: { name: user.name, domain: { id: lab.domainId }, password: user.password } },
        },
        scope: { project: { id: projectId } },
      },
    }),
  });
  return sessionOf(response);
}

/** One JSON request; a 404 is "not found", anything else not 2xx is an error. */
export async function api<T>(
  session: Session,
  method: string,
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<T | undefined> {
  const response = await fetch(url, {
    method,
    headers: {
      "X-Auth-Token": session.token,
      "Content-Type": "application/json",
      Accept: "application/json",
      ...headers,
    },
    ...(body === undefined
      ? {}
      : { body: typeof body === "string" || body instanceof Uint8Array ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  if (response.status === 404) return undefined;
  if (!response.ok) throw invokeError(`${method} ${url}: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function must<T>(value: Promise<T | undefined>, what: string): Promise<T> {
  const v = await value;
  if (v === undefined) throw invokeError(`${what}: HTTP 404`);
  return v;
}

/** The lab as the pre-flight's data sources see it, for one session (one project). */
export function labCloud(session: Session): CloudAnswer {
  return async (args: pulumi.runtime.MockCallArgs) => {
    // The arguments of the data sources answered below, as the program passes them.
    const inputs = args.inputs as {
      region?: string;
      name?: string;
      networkId?: string;
      projectId?: string;
      tags?: string[];
    };
    const region = String(inputs.region);
    const base = { id: `lab-${args.token}`, region };
    const nova = () => session.endpoint("compute", region);
    const neutron = () => `${session.endpoint("network", region)}/v2.0`;
    switch (args.token) {
      case "openstack:compute/getFlavor:getFlavor": {
        const { flavors } = await must(
          api<{ flavors: { id: string; name: string; vcpus: number; ram: number }[] }>(
            session,
            "GET",
            `${nova()}/flavors/detail?is_public=None`,
          ),
          "flavors",
        );
        const found = flavors.filter((f) => f.name === inputs.name);
        if (found.length !== 1)
          throw invokeError(found.length === 0 ? NO_RESULTS : "Your query returned more than one result.");
        return {
          ...base,
          name: found[0]!.name,
          flavorId: found[0]!.id,
          vcpus: found[0]!.vcpus,
          ram: found[0]!.ram,
          extraSpecs: {},
        };
      }
      case "openstack:images/getImageIds:getImageIds": {
        const { images } = await must(
          api<{ images: { id: string }[] }>(
            session,
            "GET",
            `${session.endpoint("image", region)}/v2/images?status=active&limit=1000`,
          ),
          "images",
        );
        return { ...base, ids: images.map((i) => i.id) };
      }
      case "openstack:compute/getAvailabilityZones:getAvailabilityZones": {
        const body = await must(
          api<{ availabilityZoneInfo: { zoneName: string; zoneState: { available: boolean } }[] }>(
            session,
            "GET",
            `${nova()}/os-availability-zone`,
          ),
          "zones",
        );
        return {
          ...base,
          names: body.availabilityZoneInfo.filter((z) => z.zoneState.available).map((z) => z.zoneName),
        };
      }
      case "openstack:networking/getNetwork:getNetwork": {
        const { networks } = await must(
          api<{ networks: Record<string, unknown>[] }>(
            session,
            "GET",
            `${neutron()}/networks?id=${encodeURIComponent(String(inputs.networkId))}`,
          ),
          "networks",
        );
        if (networks.length === 0) throw invokeError(NO_RESULTS);
        return {
          ...base,
          networkId: inputs.networkId,
          external: networks[0]!["router:external"] === true,
          allTags: [],
          availabilityZoneHints: [],
          segments: [],
          subnets: [],
        };
      }
      case "openstack:compute/getLimitsV2:getLimitsV2": {
        const { limits } = await must(
          api<{ limits: { absolute: Record<string, number> } }>(
            session,
            "GET",
            `${nova()}/limits?tenant_id=${inputs.projectId}`,
          ),
          "limits",
        );
        return { ...base, projectId: inputs.projectId, ...limits.absolute };
      }
      case "openstack:compute/getQuotaSetV2:getQuotaSetV2": {
        const { quota_set: q } = await must(
          api<{ quota_set: Record<string, number> }>(session, "GET", `${nova()}/os-quota-sets/${inputs.projectId}`),
          "quota set",
        );
        return {
          ...base,
          projectId: inputs.projectId,
          instances: q.instances,
          cores: q.cores,
          ram: q.ram,
          serverGroups: q.server_groups,
          serverGroupMembers: q.server_group_members,
          fixedIps: q.fixed_ips ?? -1,
          floatingIps: q.floating_ips ?? -1,
          injectedFileContentBytes: q.injected_file_content_bytes ?? -1,
          injectedFilePathBytes: q.injected_file_path_bytes ?? -1,
          injectedFiles: q.injected_files ?? -1,
          keyPairs: q.key_pairs ?? -1,
          metadataItems: q.metadata_items ?? -1,
          securityGroupRules: q.security_group_rules ?? -1,
          securityGroups: q.security_groups ?? -1,
        };
      }
      case "openstack:networking/getQuotaV2:getQuotaV2": {
        const { quota } = await must(
          api<{ quota: Record<string, number> }>(session, "GET", `${neutron()}/quotas/${inputs.projectId}`),
          "quota",
        );
        return {
          ...base,
          projectId: inputs.projectId,
          port: quota.port,
          securityGroup: quota.security_group,
          securityGroupRule: quota.security_group_rule,
          floatingip: quota.floatingip,
          network: quota.network,
          subnet: quota.subnet,
          router: quota.router,
          rbacPolicy: quota.rbac_policy ?? -1,
          subnetpool: quota.subnetpool ?? -1,
        };
      }
      case "openstack:networking/getPortIds:getPortIds": {
        const query = new URLSearchParams({
          project_id: String(inputs.projectId),
          ...(inputs.tags ? { tags: inputs.tags.join(",") } : {}),
        });
        const { ports } = await must(
          api<{ ports: { id: string }[] }>(session, "GET", `${neutron()}/ports?${query.toString()}`),
          "ports",
        );
        return { ...base, ids: ports.map((p) => p.id) };
      }
    }
    return undefined;
  };
}
