/**
 * A test OIDC issuer over TLS on 127.0.0.1: discovery and JWKS, as the API
 * server's JWT authenticator fetches them, and RS256 tokens signed with a
 * key made for this run. It stands in for Zitadel only as a token source;
 * every rule about what a token must carry comes from the program's own
 * AuthenticationConfiguration.
 */
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as https from "node:https";
import type { AddressInfo } from "node:net";
import type { CertFiles } from "./pki";

export interface TokenClaims {
  sub: string;
  aud: string;
  groups?: string[];
  amr?: string[];
  /** Overrides the issuer URL (a token claiming to come from another issuer). */
  iss?: string;
}

export interface OidcIssuer {
  url: string;
  /** A token signed with this issuer's key. */
  sign(claims: TokenClaims): string;
  close(): Promise<void>;
}

const b64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

export async function startOidcIssuer(serving: CertFiles): Promise<OidcIssuer> {
  const { privateKey, publicKey } = crypto.generateKeyPairSync("rsa", { modulusLength: 2048 });
  const kid = crypto.randomBytes(8).toString("hex");
  const jwk = { ...publicKey.export({ format: "jwk" }), kid, use: "sig", alg: "RS256" };
  let url = "";
  const server = https.createServer(
    { cert: fs.readFileSync(serving.cert), key: fs.readFileSync(serving.key) },
    (req, res) => {
      const send = (body: unknown) => {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      };
      if (req.url === "/.well-known/openid-configuration") {
        send({
          issuer: url,
          jwks_uri: `${url}/keys`,
          id_token_signing_alg_values_supported: ["RS256"],
          response_types_supported: ["id_token"],
          subject_types_supported: ["public"],
        });
      } else if (req.url === "/keys") {
        send({ keys: [jwk] });
      } else {
        res.writeHead(404);
        res.end();
      }
    },
  );
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    sign(claims) {
      const now = Math.floor(Date.now() / 1000);
      const header = b64url(JSON.stringify({ alg: "RS256", typ: "JWT", kid }));
      const payload = b64url(
        JSON.stringify({ iat: now, nbf: now - 5, exp: now + 600, ...claims, iss: claims.iss ?? url }),
      );
      const signature = crypto.sign("sha256", Buffer.from(`${header}.${payload}`), privateKey);
      return `${header}.${payload}.${b64url(signature)}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
