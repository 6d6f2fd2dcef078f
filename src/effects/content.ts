// What a written file holds, as an effect may show it: a hash always, the text only when it holds no
// secret, and for certificates, keys and kubeconfigs a description read from the content itself.
import { createHash } from "node:crypto";
import { inspectCertificate } from "../pki/inspect.js";
import { parseKubeconfig } from "../pki/kubeconfig.js";

const SECRET = /PRIVATE KEY-----|client-key-data:|^\s*token:/m;
const CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/;

export function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function describeCert(pem: string): string {
  const c = inspectCertificate(pem);
  const o = c.subject.organizations.length ? `O=${c.subject.organizations.join("+")}, ` : "";
  const sans = [...c.sans.dns, ...c.sans.ips];
  return `${o}CN=${c.subject.commonName ?? ""}, issuer CN=${c.issuer.commonName ?? ""}${c.isCA ? ", CA" : ""}${
    sans.length ? `, SANs ${sans.join(",")}` : ""
  }`;
}

function describeKubeconfig(text: string): string | undefined {
  try {
    const k = parseKubeconfig(text);
    const user = k.clientCert?.pem ? `, user ${describeCert(k.clientCert.pem)}` : "";
    return `kubeconfig: server ${k.server}${user}`;
  } catch {
    return undefined;
  }
}

/** Whether `text` holds key material or a token, and what it is in one line (when it can tell). */
export function describeContent(data: string | Buffer): { secret: boolean; summary?: string } {
  const text = typeof data === "string" ? data : data.toString("utf8");
  const secret = SECRET.test(text);
  if (/^\s*(apiVersion|clusters|kind):/m.test(text) && /clusters:/.test(text)) {
    const k = describeKubeconfig(text);
    if (k) return { secret, summary: k };
  }
  if (/PRIVATE KEY-----/.test(text)) return { secret: true, summary: "private key" };
  const cert = CERT.exec(text);
  if (cert && text.trim().startsWith("-----BEGIN CERTIFICATE")) {
    try {
      return { secret, summary: describeCert(cert[0]) };
    } catch {
      return { secret };
    }
  }
  if (/-----BEGIN PUBLIC KEY-----/.test(text)) return { secret, summary: "public key" };
  return { secret };
}
