/**
 * Applies the program's Kubernetes objects through the API server's REST API,
 * the way the kubernetes plugin does by default (server-side apply, field
 * manager per object, `pulumi.com/patchForce` honoured for *Patch kinds),
 * after installing the CRDs they need from a Go module zip.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import type { KubeObject, ProgramObject } from "./program-objects";
import type { Identity, KubeApiServer } from "./server";

/**
 * Argo CD's CRDs, from the Argo CD module. The stacks pin chart argo-cd 9.1.4;
 * argo-helm's notes give chart 9.2.1 as Argo CD v3.2.3, so 9.1.x ships an
 * earlier 3.2 release, whose exact patch could not be read here (the chart is
 * not downloadable): v3.2.0 stands for that line. Downloaded into the same
 * module cache the Cluster API CRD extract uses (scripts/capi-crds/extract.ts).
 */
export const ARGOCD_MODULE = { path: "github.com/argoproj/argo-cd/v3", version: "v3.2.0" } as const;
const ARGOCD_CRD_FILES = [
  "manifests/crds/application-crd.yaml",
  "manifests/crds/appproject-crd.yaml",
  "manifests/crds/applicationset-crd.yaml",
];
const GOMODCACHE = path.join(os.homedir(), ".cache", "ske-platform", "gomod");

export function argoCdCrds(): KubeObject[] {
  const go = fs.existsSync("/usr/local/go/bin/go") ? "/usr/local/go/bin/go" : "go";
  const info = JSON.parse(
    execFileSync(go, ["mod", "download", "-json", `${ARGOCD_MODULE.path}@${ARGOCD_MODULE.version}`], {
      env: { ...process.env, GOMODCACHE, GOFLAGS: "-mod=mod" },
      encoding: "utf8",
    }),
  ) as { Dir?: string; Error?: string };
  if (!info.Dir)
    throw new Error(`go mod download ${ARGOCD_MODULE.path}@${ARGOCD_MODULE.version}: ${info.Error ?? "no directory"}`);
  return ARGOCD_CRD_FILES.flatMap((file) =>
    parseAllDocuments(fs.readFileSync(path.join(info.Dir!, file), "utf8")).map((d) => d.toJSON() as KubeObject),
  ).filter(Boolean);
}

export interface ServedResource {
  group: string;
  version: string;
  /** Plural, with `/subresource` for subresources. */
  resource: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
}

/** Every resource (and subresource) the server serves, in each group's preferred version. */
export async function discover(server: KubeApiServer, as: Identity): Promise<ServedResource[]> {
  const served: ServedResource[] = [];
  const listOf = async (group: string, groupVersion: string, url: string) => {
    const res = await server.request<{
      resources: { name: string; kind: string; namespaced: boolean; verbs: string[] }[];
    }>(as, "GET", url);
    if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${res.text}`);
    for (const r of res.body.resources) {
      served.push({
        group,
        version: groupVersion.split("/").pop()!,
        resource: r.name,
        kind: r.kind,
        namespaced: r.namespaced,
        verbs: r.verbs ?? [],
      });
    }
  };
  await listOf("", "v1", "/api/v1");
  const groups = await server.request<{ groups: { name: string; preferredVersion: { groupVersion: string } }[] }>(
    as,
    "GET",
    "/apis",
  );
  for (const g of groups.body.groups)
    await listOf(g.name, g.preferredVersion.groupVersion, `/apis/${g.preferredVersion.groupVersion}`);
  return served;
}

function collectionPath(served: readonly ServedResource[], object: KubeObject): string {
  const [group, version] = object.apiVersion.includes("/") ? object.apiVersion.split("/") : ["", object.apiVersion];
  const r = served.find((s) => s.group === group && s.kind === object.kind && !s.resource.includes("/"));
  if (!r) throw new Error(`${object.apiVersion} ${object.kind} is not served`);
  const base = group ? `/apis/${group}/${version}` : `/api/${version}`;
  return r.namespaced
    ? `${base}/namespaces/${object.metadata.namespace ?? "default"}/${r.resource}`
    : `${base}/${r.resource}`;
}

export function objectPath(served: readonly ServedResource[], object: KubeObject): string {
  return `${collectionPath(served, object)}/${object.metadata.name}`;
}

/** Server-side apply of one object; throws with the server's answer unless it is accepted. */
export async function apply(
  server: KubeApiServer,
  as: Identity,
  served: readonly ServedResource[],
  object: KubeObject,
  force = false,
): Promise<void> {
  const url = `${objectPath(served, object)}?fieldManager=ske-platform${force ? "&force=true" : ""}`;
  const res = await server.request(as, "PATCH", url, object, "application/apply-patch+yaml");
  if (res.status !== 200 && res.status !== 201)
    throw new Error(
      `apply ${object.kind} ${object.metadata.namespace ?? ""}/${object.metadata.name}: ${res.status} ${res.text}`,
    );
}

/** CRDs first, waiting until each is established, so that their kinds are served. */
export async function installCrds(server: KubeApiServer, as: Identity, crds: readonly KubeObject[]): Promise<void> {
  const served = await discover(server, as);
  for (const crd of crds) await apply(server, as, served, crd);
  const deadline = Date.now() + 60_000;
  for (const crd of crds) {
    for (;;) {
      const res = await server.request<{ status?: { conditions?: { type: string; status: string }[] } }>(
        as,
        "GET",
        objectPath(served, crd),
      );
      if (res.body.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) break;
      if (Date.now() > deadline) throw new Error(`CRD ${crd.metadata.name} not established after 60 s`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** Pulumi's own inputs that are not part of the Kubernetes object. */
function kubernetesObject(o: ProgramObject): { object: KubeObject; force: boolean } {
  const object = structuredClone(o.object);
  const annotations = { ...(object.metadata.annotations ?? {}) };
  const force = annotations["pulumi.com/patchForce"] === "true";
  for (const key of Object.keys(annotations)) if (key.startsWith("pulumi.com/")) delete annotations[key];
  object.metadata = { ...object.metadata, annotations };
  if (Object.keys(annotations).length === 0) delete object.metadata.annotations;
  return { object, force };
}

/** Namespaces first (everything else lives in one), then the rest in the program's order. */
export async function applyProgramObjects(
  server: KubeApiServer,
  as: Identity,
  objects: readonly ProgramObject[],
): Promise<string[]> {
  const served = await discover(server, as);
  const ordered = [
    ...objects.filter((o) => o.object.kind === "Namespace"),
    ...objects.filter((o) => o.object.kind !== "Namespace"),
  ];
  const applied: string[] = [];
  for (const o of ordered) {
    const { object, force } = kubernetesObject(o);
    await apply(server, as, served, object, force || o.type.endsWith("Patch"));
    applied.push(
      `${object.kind} ${object.metadata.namespace ? `${object.metadata.namespace}/` : ""}${object.metadata.name}`,
    );
  }
  return applied;
}
