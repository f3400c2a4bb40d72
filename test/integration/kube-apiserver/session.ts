/**
 * One API server run for one cluster of a committed stack: the program's
 * render of that cluster, a test OIDC issuer (and a second, foreign one),
 * etcd and kube-apiserver started with the rendered audit policy and
 * AuthenticationConfiguration, and Talos's bootstrap manifests applied.
 */
import * as fs from "node:fs";
import * as path from "node:path";
import { parseAllDocuments } from "yaml";
import { ADMIN_GROUP } from "../../../components/cluster";
import { discover, objectPath } from "./apply";
import { startOidcIssuer, type OidcIssuer, type TokenClaims } from "./oidc-issuer";
import { issue, newCa } from "./pki";
import { renderedCluster, type KubeObject, type RenderedCluster } from "./program-objects";
import { runDirectory, startKubeApiServer, type ApiResponse, type Identity, type KubeApiServer } from "./server";

export interface Session {
  rendered: RenderedCluster;
  server: KubeApiServer;
  issuer: OidcIssuer;
  /** Another issuer with its own key, which the API server does not trust. */
  otherIssuer: OidcIssuer;
  /** The program's deploy identity: the admin certificate's group (components/cluster ADMIN_GROUP). */
  deploy: Identity;
  /** `zitadel:` + name, as the API server maps a token's group. */
  group(name: string): string;
  /** A token for this environment's Kubernetes client unless `aud` says otherwise. */
  token(claims: Partial<TokenClaims> & { sub: string }, from?: OidcIssuer): string;
  whoAmI(bearer: string): Promise<ApiResponse<{ status?: { userInfo?: { username: string; groups: string[] } } }>>;
  stop(): Promise<void>;
}

export async function startSession(stack: string, cluster: string, log: (line: string) => void): Promise<Session> {
  const rendered = await renderedCluster(stack, cluster);
  const dir = runDirectory();
  const started: { close(): Promise<void> }[] = [];
  let server: KubeApiServer | undefined;
  const stop = async (keep = process.env.SKE_KUBE_APISERVER_KEEP === "1") => {
    if (server) {
      log(
        `memory at the end: ${JSON.stringify(server.rssMiB())} MiB RSS; start took ${server.startSeconds.toFixed(1)} s`,
      );
      await server.stop();
    }
    for (const s of started) await s.close();
    if (keep) log(`kept ${dir} (logs, audit log)`);
    else fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const issuerPki = path.join(dir, "issuer-pki");
    fs.mkdirSync(issuerPki, { mode: 0o700 });
    const issuerCa = newCa(issuerPki, "issuer-ca", "test OIDC issuer CA");
    const issuer = await startOidcIssuer(
      issue(issuerPki, issuerCa, "issuer", { cn: "issuer" }, "server", ["127.0.0.1"]),
    );
    started.push(issuer);
    const otherIssuer = await startOidcIssuer(
      issue(issuerPki, issuerCa, "other-issuer", { cn: "other-issuer" }, "server", ["127.0.0.1"]),
    );
    started.push(otherIssuer);

    // The program's AuthenticationConfiguration with ONLY the issuer's location
    // and trust replaced (Zitadel is not reachable here): url -> the test
    // issuer, certificateAuthority -> its CA. Audiences, claim validation
    // rules (the amr/mfa rule) and claim mappings stay as rendered.
    const authenticationConfiguration = structuredClone(rendered.authenticationConfiguration);
    for (const jwt of authenticationConfiguration.jwt) {
      if (jwt.issuer.url !== rendered.zitadel.issuer)
        throw new Error(
          `${cluster}: the rendered issuer ${jwt.issuer.url} is not zitadel.issuer ${rendered.zitadel.issuer}`,
        );
      jwt.issuer.url = issuer.url;
      jwt.issuer.certificateAuthority = fs.readFileSync(issuerCa.cert, "utf8");
    }
    server = await startKubeApiServer(dir, { authenticationConfiguration, auditPolicy: rendered.auditPolicy, log });
    log(`memory after start: ${JSON.stringify(server.rssMiB())} MiB RSS`);

    // What Talos applies at bootstrap with its own system:masters identity:
    // the binding that makes the program's admin certificate cluster-admin.
    const masters: Identity = { cert: server.masters };
    const served = await discover(server, masters);
    for (const manifest of rendered.machineConfig.cluster.inlineManifests ?? []) {
      for (const doc of parseAllDocuments(manifest.contents)) {
        const object = doc.toJSON() as KubeObject;
        const res = await server.request(
          masters,
          "PATCH",
          `${objectPath(served, object)}?fieldManager=talos`,
          object,
          "application/apply-patch+yaml",
        );
        if (res.status >= 300) throw new Error(`bootstrap manifest ${manifest.name}: ${res.status} ${res.text}`);
      }
    }
    const api = server;
    const session: Session = {
      rendered,
      server: api,
      issuer,
      otherIssuer,
      deploy: { cert: api.deployIdentity("ske-platform", ADMIN_GROUP) },
      group: (name) => `${rendered.zitadel.groupsPrefix}${name}`,
      token: (claims, from = issuer) => from.sign({ aud: rendered.zitadel.kubernetesClientId, ...claims }),
      whoAmI: (bearer) =>
        api.request({ token: bearer }, "POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews", {
          apiVersion: "authentication.k8s.io/v1",
          kind: "SelfSubjectReview",
        }),
      stop: () => stop(),
    };

    // The JWT authenticator fetches discovery and keys in the background
    // after /readyz: wait until a valid token is accepted at all.
    const deadline = Date.now() + 60_000;
    const probe = session.token({ sub: "readiness", groups: [rendered.zitadel.auditorGroup], amr: ["pwd", "mfa"] });
    while ((await session.whoAmI(probe)).status !== 201) {
      if (Date.now() > deadline)
        throw new Error(`the JWT authenticator never accepted a valid token; see ${dir}/kube-apiserver.log`);
      await new Promise((r) => setTimeout(r, 250));
    }
    return session;
  } catch (error) {
    // Keep the logs of a run that did not come up.
    await stop(true);
    throw error;
  }
}
