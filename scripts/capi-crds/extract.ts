/**
 * The CRD schemas the example workload cluster is validated against, read
 * from the Go module zips of the pinned provider versions (plan/cluster-api.ts).
 *
 *   node scripts/run-ts.cjs scripts/capi-crds/extract.ts           # (re)write test/fixtures/capi-crds/schemas.json
 *   node scripts/run-ts.cjs scripts/capi-crds/extract.ts --verify  # exit 1 unless the committed extract equals a fresh one
 *
 * Needs `go` and the Go module proxy; the zips are cached under
 * ~/.cache/ske-platform/gomod like the toolchain's modules. The unit tests
 * read only the committed extract, so `npm test` needs no Go.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parse as parseYaml } from "yaml";
import { REPO_ROOT } from "../../config/load";
import { CLUSTER_API_VERSIONS, PROVIDER_KEYS, type ProviderKey } from "../../plan/cluster-api";

// The script runs bundled from node_modules/.cache, so the root is found, not derived from __dirname.
const ROOT = REPO_ROOT;
export const EXTRACT_FILE = path.join(ROOT, "test", "fixtures", "capi-crds", "schemas.json");
const GOMODCACHE = path.join(os.homedir(), ".cache", "ske-platform", "gomod");

/** CRD files (under the module) and the versions of each the example and the tests use. */
const WANTED: Record<ProviderKey, { file: string; versions: string[] }[]> = {
  core: [
    { file: "config/crd/bases/cluster.x-k8s.io_clusters.yaml", versions: ["v1beta2"] },
    { file: "config/crd/bases/cluster.x-k8s.io_machinedeployments.yaml", versions: ["v1beta2"] },
    { file: "config/crd/bases/cluster.x-k8s.io_machinehealthchecks.yaml", versions: ["v1beta2"] },
  ],
  infrastructure: [
    { file: "config/crd/bases/infrastructure.cluster.x-k8s.io_openstackclusters.yaml", versions: ["v1beta1"] },
    { file: "config/crd/bases/infrastructure.cluster.x-k8s.io_openstackmachinetemplates.yaml", versions: ["v1beta1"] },
  ],
  bootstrap: [
    { file: "config/crd/bases/bootstrap.cluster.x-k8s.io_talosconfigtemplates.yaml", versions: ["v1alpha3"] },
  ],
  controlPlane: [
    { file: "config/crd/bases/controlplane.cluster.x-k8s.io_taloscontrolplanes.yaml", versions: ["v1alpha3"] },
  ],
};

/** Where CAPO defines the key of the identity Secret it reads. */
const CAPO_SECRET_KEY_SOURCE = "pkg/scope/provider.go";

export interface CrdSchema {
  module: string;
  moduleVersion: string;
  file: string;
  group: string;
  kind: string;
  version: string;
  served: boolean;
  schema: unknown;
}

export interface CrdExtract {
  modules: { module: string; version: string; sum: string }[];
  /** CAPO's `CloudsSecretKey`, read from its source. */
  capoCloudsSecretKey: string;
  crds: CrdSchema[];
}

function download(module: string, version: string): { zip: string; sum: string } {
  const out = execFileSync("go", ["mod", "download", "-json", `${module}@${version}`], {
    encoding: "utf8",
    // The checksum database does not list every provider release; the module's h1 sum is recorded in the extract instead, and --verify compares it.
    env: { ...process.env, GOMODCACHE, GOFLAGS: "-mod=mod", GONOSUMDB: module, GOTOOLCHAIN: "local" },
    cwd: os.tmpdir(),
  });
  const info = JSON.parse(out) as { Zip?: string; Sum?: string; Error?: string };
  if (info.Error || !info.Zip || !info.Sum)
    throw new Error(`go mod download ${module}@${version}: ${info.Error ?? "no zip"}`);
  return { zip: info.Zip, sum: info.Sum };
}

const fromZip = (zip: string, member: string) =>
  execFileSync("unzip", ["-p", zip, member], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });

export function extract(): CrdExtract {
  const modules: CrdExtract["modules"] = [];
  const crds: CrdSchema[] = [];
  let capoCloudsSecretKey = "";
  for (const key of PROVIDER_KEYS) {
    const { module, version } = CLUSTER_API_VERSIONS[key];
    const { zip, sum } = download(module, version);
    modules.push({ module, version, sum });
    for (const wanted of WANTED[key]) {
      const doc = parseYaml(fromZip(zip, `${module}@${version}/${wanted.file}`)) as {
        spec: {
          group: string;
          names: { kind: string };
          versions: { name: string; served: boolean; schema: { openAPIV3Schema: unknown } }[];
        };
      };
      for (const name of wanted.versions) {
        const v = doc.spec.versions.find((x) => x.name === name);
        if (!v) throw new Error(`${module}@${version} ${wanted.file}: no version ${name}`);
        crds.push({
          module,
          moduleVersion: version,
          file: wanted.file,
          group: doc.spec.group,
          kind: doc.spec.names.kind,
          version: name,
          served: v.served,
          schema: v.schema.openAPIV3Schema,
        });
      }
    }
    if (key === "infrastructure") {
      const match = /CloudsSecretKey\s*=\s*"([^"]+)"/.exec(
        fromZip(zip, `${module}@${version}/${CAPO_SECRET_KEY_SOURCE}`),
      );
      if (!match) throw new Error(`${module}@${version}: no CloudsSecretKey in ${CAPO_SECRET_KEY_SOURCE}`);
      capoCloudsSecretKey = match[1]!;
    }
  }
  return { modules, capoCloudsSecretKey, crds };
}

function main() {
  const fresh = `${JSON.stringify(extract(), null, 1)}\n`;
  if (process.argv.includes("--verify")) {
    const committed = fs.existsSync(EXTRACT_FILE) ? fs.readFileSync(EXTRACT_FILE, "utf8") : "";
    if (committed !== fresh) {
      console.error(
        `${path.relative(ROOT, EXTRACT_FILE)} differs from the CRDs of the pinned versions; run scripts/capi-crds/extract.ts and commit the result`,
      );
      process.exit(1);
    }
    console.log(`${path.relative(ROOT, EXTRACT_FILE)} matches the pinned modules`);
    return;
  }
  fs.mkdirSync(path.dirname(EXTRACT_FILE), { recursive: true });
  fs.writeFileSync(EXTRACT_FILE, fresh);
  console.log(`wrote ${path.relative(ROOT, EXTRACT_FILE)} (${fresh.length} bytes)`);
}

main();
