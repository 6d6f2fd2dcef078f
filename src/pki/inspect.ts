/**
 * Reading certificates and keys: what `certs check` and the plan show, and what the verifier
 * checks. Pure apart from parsing (node:crypto's X509Certificate and our DER reader).
 */
import { createPrivateKey, createPublicKey, X509Certificate } from "node:crypto";
import ipaddr from "ipaddr.js";
import { InputError } from "../errors.js";
import * as der from "./der.js";
import { EXT_KEY_USAGE_OID, keyAlgorithmOf, tbsFields } from "./issue.js";
import { isIpAddress, normalizeIp, type Sans } from "./sans.js";

export interface CertInfo {
  subject: { commonName?: string; organizations: string[] };
  issuer: { commonName?: string; organizations: string[] };
  sans: Sans;
  notBefore: Date;
  notAfter: Date;
  /** Hex, upper case, as openssl prints it without colons. */
  serial: string;
  isCA: boolean;
  keyAlgorithm: "rsa" | "ec";
  /** RSA modulus bits. */
  keySize?: number;
  /** EC curve, "P-256" or "P-384". */
  curve?: string;
  /** Hex, lower case. */
  ski?: string;
  aki?: string;
  /** keyUsage names set: digitalSignature, keyEncipherment, keyCertSign, ... */
  keyUsages: string[];
  /** Extended key usages by name (serverAuth, clientAuth) or OID when unknown. */
  extKeyUsages: string[];
}

const KEY_USAGE_BITS = [
  "digitalSignature",
  "contentCommitment",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
];

export function parseCertificate(pem: string | X509Certificate, what = "certificate"): X509Certificate {
  if (pem instanceof X509Certificate) return pem;
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new InputError(`${what}: not a PEM X.509 certificate`, { cause: err });
  }
}

function nameOf(nameDer: Buffer): { commonName?: string; organizations: string[] } {
  const out: { commonName?: string; organizations: string[] } = { organizations: [] };
  for (const rdn of der.children(der.readNode(nameDer))) {
    for (const atv of der.children(rdn)) {
      const [type, value] = der.children(atv);
      if (!type || !value) continue;
      const id = der.decodeOid(type.content);
      // BMPString (0x1e) is UTF-16BE; the others kubeadm and openssl write are UTF-8 compatible.
      const text =
        value.tag === 0x1e
          ? Buffer.from(value.content).swap16().toString("utf16le")
          : value.content.toString("utf8");
      if (id === "2.5.4.3") out.commonName = text;
      else if (id === "2.5.4.10") out.organizations.push(text);
    }
  }
  return out;
}

function ipText(bytes: Buffer): string {
  return normalizeIp(ipaddr.fromByteArray([...bytes]).toString(), "SAN");
}

export function inspectCertificate(pem: string | X509Certificate): CertInfo {
  const cert = parseCertificate(pem);
  const fields = tbsFields(cert.raw);
  const ext = (id: string): Buffer | undefined => fields.extensions.get(id)?.value;

  const sans: Sans = { dns: [], ips: [] };
  const sanExt = ext("2.5.29.17");
  if (sanExt) {
    for (const gn of der.children(der.readNode(sanExt))) {
      if (gn.tag === der.context(2, false)) sans.dns.push(gn.content.toString("ascii"));
      else if (gn.tag === der.context(7, false) && (gn.content.length === 4 || gn.content.length === 16))
        sans.ips.push(ipText(gn.content));
    }
  }

  const keyUsages: string[] = [];
  const kuExt = ext("2.5.29.15");
  if (kuExt) {
    const bits = der.readNode(kuExt).content;
    KEY_USAGE_BITS.forEach((name, i) => {
      if (((bits[1 + Math.floor(i / 8)] ?? 0) & (0x80 >> (i % 8))) !== 0) keyUsages.push(name);
    });
  }
  const byOid = new Map(Object.entries(EXT_KEY_USAGE_OID).map(([k, v]) => [v, k]));
  const ekuExt = ext("2.5.29.37");
  const extKeyUsages = ekuExt
    ? der.children(der.readNode(ekuExt)).map((n) => {
        const id = der.decodeOid(n.content);
        return byOid.get(id) ?? id;
      })
    : [];

  let aki: string | undefined;
  const akiExt = ext("2.5.29.35");
  if (akiExt) {
    const keyId = der.children(der.readNode(akiExt)).find((n) => n.tag === der.context(0, false));
    aki = keyId?.content.toString("hex");
  }

  const alg = keyAlgorithmOf(cert.publicKey, "certificate");
  return {
    subject: nameOf(fields.subject),
    issuer: nameOf(fields.issuer),
    sans,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    serial: cert.serialNumber.toUpperCase(),
    isCA: cert.ca,
    keyAlgorithm: alg.type,
    ...(alg.type === "rsa" ? { keySize: alg.bits } : { curve: alg.curve }),
    ski: fields.subjectKeyId?.toString("hex"),
    aki,
    keyUsages,
    extKeyUsages,
  };
}

export interface ChainResult {
  ok: boolean;
  /** Why not, in words, when !ok. */
  reason?: string;
}

/** The certificate was issued by this CA (name and signature) and both are valid at `at`. */
export function verifyChain(
  certPem: string | X509Certificate,
  caPem: string | X509Certificate,
  at = new Date(),
): ChainResult {
  const cert = parseCertificate(certPem);
  const ca = parseCertificate(caPem, "CA certificate");
  if (!ca.ca) return { ok: false, reason: "the CA certificate is not a CA" };
  if (!cert.checkIssued(ca))
    return {
      ok: false,
      reason: `issued by ${cert.issuer.replace(/\n/g, ", ")}, not by ${ca.subject.replace(/\n/g, ", ")}`,
    };
  if (!cert.verify(ca.publicKey))
    return { ok: false, reason: "the signature does not verify with the CA's key" };
  for (const [c, what] of [
    [cert, "certificate"],
    [ca, "CA certificate"],
  ] as const) {
    if (new Date(c.validFrom) > at)
      return { ok: false, reason: `${what} is not valid before ${new Date(c.validFrom).toISOString()}` };
    if (new Date(c.validTo) <= at)
      return { ok: false, reason: `${what} expired on ${new Date(c.validTo).toISOString()}` };
  }
  return { ok: true };
}

/** The private key is the one the certificate was issued for. */
export function keyMatchesCert(keyPem: string, certPem: string | X509Certificate): boolean {
  const cert = parseCertificate(certPem);
  let key;
  try {
    key = createPrivateKey(keyPem);
  } catch (err) {
    throw new InputError("private key: not a PEM private key", { cause: err });
  }
  return cert.checkPrivateKey(key);
}

/** sa.key and sa.pub are a pair. */
export function publicKeyMatches(privateKeyPem: string, publicKeyPem: string): boolean {
  const fromPriv = createPublicKey(createPrivateKey(privateKeyPem)).export({ type: "spki", format: "der" });
  const pub = createPublicKey(publicKeyPem).export({ type: "spki", format: "der" });
  return fromPriv.equals(pub);
}

function dnsCovered(name: string, have: readonly string[]): boolean {
  const n = name.toLowerCase();
  return have.some((h) => {
    const p = h.toLowerCase();
    if (p === n) return true;
    // "*.example.com" covers exactly one more label: "a.example.com", not "a.b.example.com".
    if (p.startsWith("*.")) {
      const dot = n.indexOf(".");
      return dot > 0 && n.slice(dot) === p.slice(1);
    }
    return false;
  });
}

/**
 * The required SANs the certificate does not carry ([] when all are there). Required entries may
 * be IPs or DNS names, given as a list or as {dns, ips}.
 */
export function sansCover(
  certPem: string | X509Certificate | CertInfo,
  required: readonly string[] | Sans,
): string[] {
  const info =
    typeof certPem === "string" || certPem instanceof X509Certificate ? inspectCertificate(certPem) : certPem;
  const wanted = Array.isArray(required)
    ? (required as readonly string[])
    : [...(required as Sans).dns, ...(required as Sans).ips];
  const ips = new Set(info.sans.ips.map((ip) => normalizeIp(ip, "SAN")));
  return wanted.filter((w) =>
    isIpAddress(w) ? !ips.has(normalizeIp(w, "required SAN")) : !dnsCovered(w, info.sans.dns),
  );
}
