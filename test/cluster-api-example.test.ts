import * as fs from "node:fs";
import * as path from "node:path";
import { describe, expect, it } from "vitest";
import { parse as parseYaml, parseAllDocuments } from "yaml";
import {
  CAPI_IDENTITY,
  CAPI_NAMESPACES,
  CLUSTER_API_VERSIONS,
  PROVIDER_KEYS,
  capiCloudsYaml,
  capiIdentityMetadata,
} from "../plan/cluster-api";
import { manifestProblems, readCrdExtract, schemaProblems, type Schema } from "./support/crd-schema";

const EXAMPLE = path.join(__dirname, "..", "docs", "examples", "workload-cluster.yaml");
const extract = readCrdExtract();
const example = () => parseAllDocuments(fs.readFileSync(EXAMPLE, "utf8")).map((d) => d.toJS() as Record<string, any>);
const byKind = (docs: Record<string, any>[], kind: string, name?: string) =>
  docs.filter((d) => d.kind === kind && (name === undefined || d.metadata.name === name));

describe("the CRD extract", () => {
  it("is read from the Go modules of exactly the pinned provider versions", () => {
    expect(extract.modules.map((m) => `${m.module}@${m.version}`)).toEqual(
      PROVIDER_KEYS.map((k) => `${CLUSTER_API_VERSIONS[k].module}@${CLUSTER_API_VERSIONS[k].version}`),
    );
    for (const m of extract.modules) expect(m.sum).toMatch(/^h1:[A-Za-z0-9+/]{43}=$/);
    for (const crd of extract.crds)
      expect(`${crd.module}@${crd.moduleVersion}`).toBe(
        `${crd.module}@${extract.modules.find((m) => m.module === crd.module)!.version}`,
      );
  });
});

describe("the example workload cluster (docs/examples/workload-cluster.yaml)", () => {
  it("has every object a Talos workload cluster on OpenStack needs", () => {
    expect(
      example()
        .map((d) => d.kind)
        .sort(),
    ).toEqual(
      [
        "Cluster",
        "MachineDeployment",
        "MachineHealthCheck",
        "OpenStackCluster",
        "OpenStackMachineTemplate",
        "OpenStackMachineTemplate",
        "TalosConfigTemplate",
        "TalosControlPlane",
      ].sort(),
    );
  });

  // Every YAML file under docs/examples/, so an engineer's own copy placed there is checked the same way.
  const files = fs.readdirSync(path.dirname(EXAMPLE)).filter((f) => f.endsWith(".yaml"));
  for (const file of files) {
    for (const doc of parseAllDocuments(fs.readFileSync(path.join(path.dirname(EXAMPLE), file), "utf8")).map(
      (d) => d.toJS() as Record<string, any>,
    )) {
      it(`${file}: ${doc.kind}/${doc.metadata.name} is valid against the pinned ${doc.apiVersion} schema`, () => {
        expect(manifestProblems(extract, doc)).toEqual([]);
      });
    }
  }

  it("the validator refuses what the API server would: an unknown field, a missing required field, a wrong type, a value outside an enum, an unserved version", () => {
    const docs = example();
    const cluster = structuredClone(byKind(docs, "OpenStackCluster")[0]!);
    cluster.spec.identityRef.project = "elsewhere";
    expect(manifestProblems(extract, cluster)).toEqual([
      "OpenStackCluster/example.spec.identityRef.project: unknown field",
    ]);
    delete cluster.spec.identityRef.project;
    delete cluster.spec.identityRef.cloudName;
    expect(manifestProblems(extract, cluster)).toEqual([
      "OpenStackCluster/example.spec.identityRef.cloudName: required",
    ]);

    const md = structuredClone(byKind(docs, "MachineDeployment")[0]!);
    md.spec.replicas = "3";
    expect(manifestProblems(extract, md)).toEqual([
      "MachineDeployment/example-workers.spec.replicas: expected an integer",
    ]);

    const rule = structuredClone(byKind(docs, "OpenStackCluster")[0]!);
    rule.spec.managedSecurityGroups.controlPlaneNodesSecurityGroupRules[0].direction = "inbound";
    expect(manifestProblems(extract, rule)).toEqual([
      expect.stringMatching(
        /^OpenStackCluster\/example.spec.managedSecurityGroups.controlPlaneNodesSecurityGroupRules\[0\].direction: "inbound" is not one of/,
      ),
    ]);

    const tcp = structuredClone(byKind(docs, "TalosControlPlane")[0]!);
    delete tcp.spec.controlPlaneConfig.controlplane.generateType;
    expect(manifestProblems(extract, tcp)).toEqual([
      "TalosControlPlane/example-control-plane.spec.controlPlaneConfig.controlplane.generateType: required",
    ]);

    const v1alpha4 = { ...structuredClone(byKind(docs, "Cluster")[0]!), apiVersion: "cluster.x-k8s.io/v1alpha4" };
    expect(manifestProblems(extract, v1alpha4)).toEqual([expect.stringContaining("is not among the pinned CRDs")]);
  });

  it("every reference resolves to an object of the file, in the same namespace, of the same cluster", () => {
    const docs = example();
    for (const d of docs) expect(d.metadata.namespace).toBe(CAPI_NAMESPACES.workloads);
    const exists = (ref: { kind: string; name: string }) => byKind(docs, ref.kind, ref.name).length === 1;
    const cluster = byKind(docs, "Cluster")[0]!;
    expect(exists(cluster.spec.infrastructureRef)).toBe(true);
    expect(exists(cluster.spec.controlPlaneRef)).toBe(true);
    expect(exists(byKind(docs, "TalosControlPlane")[0]!.spec.infrastructureTemplate)).toBe(true);
    for (const md of byKind(docs, "MachineDeployment")) {
      expect(md.spec.clusterName).toBe(cluster.metadata.name);
      expect(md.spec.template.spec.clusterName).toBe(cluster.metadata.name);
      expect(exists(md.spec.template.spec.bootstrap.configRef)).toBe(true);
      expect(exists(md.spec.template.spec.infrastructureRef)).toBe(true);
    }
    expect(byKind(docs, "MachineHealthCheck")[0]!.spec.clusterName).toBe(cluster.metadata.name);
  });

  it("names the identity Secret the program writes, and the clouds.yaml entry in it", () => {
    const openstackCluster = byKind(example(), "OpenStackCluster")[0]!;
    expect(openstackCluster.spec.identityRef).toEqual({
      name: CAPI_IDENTITY.secretName,
      cloudName: CAPI_IDENTITY.cloudName,
    });
  });
});

describe("the identity Secret's shape", () => {
  const metadata = capiIdentityMetadata({
    environment: "staging",
    site: "osl2",
    projectId: "9f3c1a7e2b5d4c6e8a0b1c2d3e4f6001",
    credentialName: "staging-osl2-mgmt-capi-g1",
  });
  const cloudsYaml = capiCloudsYaml({
    authUrl: "https://keystone.osl2.ske.example.net:5000/v3",
    region: "osl2",
    credentialId: "id",
    credentialSecret: "secret",
  });

  it("uses the key CAPO reads (CloudsSecretKey, from the pinned provider's source) and lives where identityRef looks", () => {
    expect(extract.capoCloudsSecretKey).toBe("clouds.yaml");
    const secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata,
      stringData: { [extract.capoCloudsSecretKey]: cloudsYaml },
    };
    expect(Object.keys(secret.stringData)).toEqual([extract.capoCloudsSecretKey]);
    expect(secret.metadata.namespace).toBe(CAPI_NAMESPACES.workloads);
    // identityRef is resolved in the OpenStackCluster's namespace.
    expect(byKind(example(), "OpenStackCluster")[0]!.metadata.namespace).toBe(metadata.namespace);
  });

  it("references it with an identityRef that the pinned OpenStackCluster schema accepts", () => {
    const crd = extract.crds.find((c) => c.kind === "OpenStackCluster")!;
    const identityRefSchema = (crd.schema as any).properties.spec.properties.identityRef as Schema;
    expect(schemaProblems(identityRefSchema, { name: metadata.name, cloudName: CAPI_IDENTITY.cloudName })).toEqual([]);
    expect(schemaProblems(identityRefSchema, { name: metadata.name })).toEqual([".cloudName: required"]);
  });

  it("holds an application-credential clouds.yaml entry under the cloud name, and refuses an empty credential", () => {
    const entry = parseYaml(cloudsYaml).clouds[CAPI_IDENTITY.cloudName];
    expect(entry).toEqual({
      auth: {
        auth_url: "https://keystone.osl2.ske.example.net:5000/v3",
        application_credential_id: "id",
        application_credential_secret: "secret",
      },
      auth_type: "v3applicationcredential",
      region_name: "osl2",
      interface: "public",
      identity_api_version: 3,
    });
    expect(() =>
      capiCloudsYaml({ authUrl: "https://k", region: "osl2", credentialId: "id", credentialSecret: "" }),
    ).toThrow(/no id or secret/);
  });
});
