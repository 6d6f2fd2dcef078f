/**
 * The evaluated alternative to kubeha's hand-made DER encoder (src/pki/der.ts and signCertificate in
 * src/pki/issue.ts): the same certificate built with @peculiar/x509 and signed through node:crypto's
 * WebCrypto (OpenSSL underneath). bench/pki.ts compares the two; docs/PKI-ENCODER.md has the figures
 * and why kubeha keeps its own encoder.
 */
import { randomBytes, webcrypto, type KeyObject } from "node:crypto";
import * as x509 from "@peculiar/x509";
import {
  EXT_KEY_USAGE_OID,
  keyAlgorithmOf,
  validityFor,
  type CertRequest,
  type LoadedCa,
} from "../src/pki/issue.js";
import { DEFAULT_VALIDITY_DAYS } from "../src/pki/issue.js";

// The library's own names for WebCrypto types (it is typed against the DOM's, which kubeha does not load).
type CreateParams = Parameters<typeof x509.X509CertificateGenerator.create>[0];
type LibKey = CreateParams["publicKey"] & CreateParams["signingKey" & keyof CreateParams];
type WebKey = webcrypto.CryptoKey;
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

/** WebCrypto algorithm of a key, as importKey and the certificate's signature need it. */
function algorithmOf(
  key: KeyObject,
  what: string,
): {
  importAlg: webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams;
  signAlg: CreateParams["signingAlgorithm"];
} {
  const alg = keyAlgorithmOf(key, what);
  if (alg.type === "rsa") {
    const a = { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
    return { importAlg: a, signAlg: a };
  }
  // As Go and signCertificate do: SHA-384 with P-384 keys.
  return {
    importAlg: { name: "ECDSA", namedCurve: alg.curve },
    signAlg: { name: "ECDSA", hash: alg.curve === "P-384" ? "SHA-384" : "SHA-256" },
  };
}

/** A CA's private key as WebCrypto needs it, imported once per CA (node 20 has no KeyObject.toCryptoKey). */
const caKeys = new WeakMap<LoadedCa, Promise<WebKey>>();
function caSigningKey(ca: LoadedCa): Promise<WebKey> {
  let key = caKeys.get(ca);
  if (!key) {
    const der = ca.key.export({ type: "pkcs8", format: "der" });
    key = webcrypto.subtle.importKey("pkcs8", der, algorithmOf(ca.key, `CA ${ca.name}`).importAlg, false, [
      "sign",
    ]);
    caKeys.set(ca, key);
  }
  return key;
}

/** signCertificate's certificate, built by @peculiar/x509: same fields, same extensions, same order. */
export async function signCertificateX509(
  ca: LoadedCa,
  publicKey: KeyObject,
  req: CertRequest,
): Promise<string> {
  const { notBefore, notAfter } = validityFor(
    ca,
    req.now ?? new Date(),
    req.validityDays ?? DEFAULT_VALIDITY_DAYS,
  );
  const leafAlg = keyAlgorithmOf(publicKey, `certificate ${req.commonName}`);
  const leafKey = await webcrypto.subtle.importKey(
    "spki",
    publicKey.export({ type: "spki", format: "der" }),
    algorithmOf(publicKey, `certificate ${req.commonName}`).importAlg,
    true,
    ["verify"],
  );
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x40;
  const usages =
    leafAlg.type === "rsa"
      ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment
      : x509.KeyUsageFlags.digitalSignature;
  const names: x509.JsonGeneralName[] = [
    ...(req.dns ?? []).map((value) => ({ type: "dns" as const, value })),
    ...(req.ips ?? []).map((value) => ({ type: "ip" as const, value })),
  ];
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial.toString("hex"),
    // The CA's subject as it is encoded: chain building (Go) matches the issuer byte for byte.
    issuer: new x509.Name(ca.subjectDer),
    subject: new x509.Name([
      ...(req.organizations ?? []).map((o) => ({ "2.5.4.10": [{ utf8String: o }] })),
      { "2.5.4.3": [{ utf8String: req.commonName }] },
    ]),
    notBefore,
    notAfter,
    publicKey: leafKey as unknown as LibKey,
    signingKey: (await caSigningKey(ca)) as unknown as LibKey,
    signingAlgorithm: algorithmOf(ca.key, `CA ${ca.name}`).signAlg,
    extensions: [
      new x509.KeyUsagesExtension(usages, true),
      new x509.ExtendedKeyUsageExtension(
        req.extKeyUsages.map((u) => EXT_KEY_USAGE_OID[u]),
        false,
      ),
      new x509.BasicConstraintsExtension(false, undefined, true),
      await x509.SubjectKeyIdentifierExtension.create(leafKey as unknown as LibKey),
      new x509.AuthorityKeyIdentifierExtension(ca.keyId.toString("hex"), false),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
    ],
  });
  return cert.toString("pem") + "\n";
}
