import { checkServerIdentity } from "node:tls";
import type { X509Certificate } from "node:crypto";
import { inspectCertificate, keyMatchesCert, parseCertificate, sansCover, verifyChain } from "./inspect.js";
import { parseKubeconfig } from "./kubeconfig.js";
import type { Sans } from "./sans.js";

/** Under this many days before expiry a certificate is reported (kubeadm warns at 30 too). */
export const EXPIRY_WARNING_DAYS = 30;

export interface PairCheck {
  /** Blocking problems: wrong CA, missing SANs, key mismatch, expired. */
  problems: string[];
  warnings: string[];
}

/** A certificate and its key as a node needs them: issued by `caPem`, covering `sans`, key matching. */
export function checkPair(
  what: string,
  certPem: string | undefined,
  keyPem: string | undefined,
  caPem: string,
  sans: Sans,
  now = new Date(),
): PairCheck {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (!certPem) return { problems: [`${what}: certificate missing`], warnings };
  if (!keyPem) return { problems: [`${what}: key missing`], warnings };
  try {
    // Parsed once for the four checks below.
    const cert = parseCertificate(certPem);
    const info = inspectCertificate(cert);
    const chain = verifyChain(cert, caPem, now);
    if (!chain.ok) problems.push(`${what}: ${chain.reason}`);
    const missing = sansCover(info, [...sans.dns, ...sans.ips]);
    if (missing.length) problems.push(`${what}: SANs missing: ${missing.join(", ")}`);
    if (!keyMatchesCert(keyPem, cert)) problems.push(`${what}: the key does not match the certificate`);
    const days = (info.notAfter.getTime() - now.getTime()) / 86_400_000;
    if (days > 0 && days < EXPIRY_WARNING_DAYS) warnings.push(`${what}: expires in ${Math.floor(days)} days`);
  } catch (err) {
    problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { problems, warnings };
}

/** A kubeconfig with embedded credentials: points at `server`, client certificate from `caPem`. */
export function checkKubeconfig(
  what: string,
  text: string | undefined,
  caPem: string,
  server: string,
  now = new Date(),
): PairCheck {
  if (!text) return { problems: [`${what}: missing`], warnings: [] };
  try {
    const k = parseKubeconfig(text, { file: what });
    const problems: string[] = [];
    if (k.server !== server) problems.push(`${what}: server is ${k.server}, expected ${server}`);
    if (!k.clientCert?.pem || !k.clientKey?.pem) {
      // Files referenced by path (kubelet's rotated certificate) are checked where they live.
      return { problems, warnings: [] };
    }
    const pair = checkPair(what, k.clientCert.pem, k.clientKey.pem, caPem, { dns: [], ips: [] }, now);
    return { problems: [...problems, ...pair.problems], warnings: pair.warnings };
  } catch (err) {
    return { problems: [`${what}: ${err instanceof Error ? err.message : String(err)}`], warnings: [] };
  }
}

/**
 * A certificate a server presents, as its clients check it: issued by `caPem`, valid for every name in
 * `valid` (as a TLS client matches them) and for none in `invalid`. Empty when all holds.
 */
export function servingProblems(
  cert: X509Certificate,
  caPem: string,
  valid: string[],
  invalid: string[] = [],
): string[] {
  const problems: string[] = [];
  const chain = verifyChain(cert, caPem);
  if (!chain.ok) problems.push(chain.reason!);
  const legacy = cert.toLegacyObject();
  const bad = valid.filter((n) => checkServerIdentity(n, legacy) !== undefined);
  if (bad.length) problems.push(`not valid for ${bad.join(", ")}`);
  const leaks = invalid.filter((n) => checkServerIdentity(n, legacy) === undefined);
  if (leaks.length) problems.push(`also valid for ${leaks.join(", ")}`);
  return problems;
}
