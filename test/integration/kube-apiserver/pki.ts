/**
 * A throw-away PKI for one API server run, made with openssl inside the run's
 * 0700 directory: a cluster CA (serving certificate, client certificates), a
 * separate CA for the test OIDC issuer, and the service-account key pair.
 * Nothing here is the program's: the program's CAs come from the tls
 * provider at deploy time, and what is under test is the API server's
 * configuration, not these keys.
 */
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

export interface CertFiles {
  cert: string;
  key: string;
}

const openssl = (args: string[], cwd: string) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

function newKey(dir: string, name: string): string {
  const key = path.join(dir, `${name}.key`);
  openssl(["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key], dir);
  fs.chmodSync(key, 0o600);
  return key;
}

export function newCa(dir: string, name: string, commonName: string): CertFiles {
  const key = newKey(dir, name);
  const cert = path.join(dir, `${name}.crt`);
  openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      key,
      "-sha256",
      "-days",
      "1",
      "-subj",
      `/CN=${commonName}`,
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      cert,
    ],
    dir,
  );
  return { cert, key };
}

/** A certificate signed by `ca`: serving (with IP SANs) or client (CN = user, O = groups). */
export function issue(
  dir: string,
  ca: CertFiles,
  name: string,
  subject: { cn: string; o?: readonly string[] },
  use: "server" | "client",
  ips: readonly string[] = [],
): CertFiles {
  const key = newKey(dir, name);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  const subj = `/CN=${subject.cn}${(subject.o ?? []).map((o) => `/O=${o}`).join("")}`;
  openssl(["req", "-new", "-key", key, "-subj", subj, "-out", csr], dir);
  fs.writeFileSync(
    ext,
    [
      "basicConstraints=critical,CA:FALSE",
      "keyUsage=critical,digitalSignature",
      `extendedKeyUsage=${use === "server" ? "serverAuth" : "clientAuth"}`,
      ...(ips.length > 0 ? [`subjectAltName=${ips.map((ip) => `IP:${ip}`).join(",")}`] : []),
    ].join("\n"),
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      csr,
      "-CA",
      ca.cert,
      "-CAkey",
      ca.key,
      "-CAcreateserial",
      "-days",
      "1",
      "-sha256",
      "-extfile",
      ext,
      "-out",
      cert,
    ],
    dir,
  );
  return { cert, key };
}

/** The service-account token signing pair (RSA, which the API server's defaults expect). */
export function serviceAccountKeys(dir: string): { publicKey: string; privateKey: string } {
  const privateKey = path.join(dir, "sa.key");
  const publicKey = path.join(dir, "sa.pub");
  openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", privateKey], dir);
  fs.chmodSync(privateKey, 0o600);
  openssl(["pkey", "-in", privateKey, "-pubout", "-out", publicKey], dir);
  return { publicKey, privateKey };
}
