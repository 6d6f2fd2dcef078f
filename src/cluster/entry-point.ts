/**
 * Which apiservers a TLS client reaches through the entry point (an LB, a virtual address, the
 * operator's load balancer), told apart by the serving certificate each presents. Read-only.
 */
import type { Host } from "../ssh/types.js";
import { peerCertificate } from "./tls.js";

export interface Reached {
  /** Names of the apiservers whose certificate came back, in the order first seen. */
  seen: string[];
  /** A certificate of no known apiserver (the LB forwards somewhere else). */
  foreign?: string;
  /** Why the last connection failed, when one did. */
  error?: string;
  tries: number;
}

/**
 * Connects through `via` to address:port up to `tries` times (a round-robin LB shows a new backend per
 * connection) and names the apiservers met; `known` maps certificate SHA-256 fingerprints to names.
 */
export async function backendsReached(
  via: Host,
  address: string,
  port: number,
  known: Map<string, string>,
  tries = 30,
): Promise<Reached> {
  const r: Reached = { seen: [], tries: 0 };
  const fwd = await via.forward(port, address).catch((err: unknown) => err as Error);
  if (fwd instanceof Error) return { ...r, error: `from ${via.name}: ${fwd.message}` };
  try {
    while (r.tries < tries && r.seen.length < known.size) {
      r.tries++;
      const cert = await peerCertificate(fwd.localPort).catch((err: unknown) => err as Error);
      if (cert instanceof Error) {
        r.error = cert.message;
        continue;
      }
      const who = known.get(cert.fingerprint256);
      if (!who) {
        r.foreign = cert.subject.replace(/\n/g, ", ");
        break;
      }
      if (!r.seen.includes(who)) r.seen.push(who);
    }
    return r;
  } finally {
    await fwd.close();
  }
}
