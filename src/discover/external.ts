/**
 * An external load balancer is the operator's: before any change kubeha checks that it forwards TCP
 * to this cluster's apiserver (a TLS handshake through it, answered with a master's own certificate).
 */
import { servedCertificate } from "../cluster/tls.js";
import { backendsReached, type Reached } from "../cluster/entry-point.js";
import type { LoadBalancer } from "../inventory/types.js";
import type { Host } from "../ssh/types.js";
import type { Finding } from "./types.js";

export interface ServingMaster {
  name: string;
  address: string;
  host: Host;
}

/** Certificate fingerprint -> master name, for every master whose apiserver answers now. */
export async function servingCertificates(
  masters: ServingMaster[],
  port: number,
): Promise<Map<string, string>> {
  const known = new Map<string, string>();
  await Promise.all(
    masters.map(async (m) => {
      const cert = await servedCertificate(m.host, port).catch(() => undefined);
      if (cert) known.set(cert.fingerprint256, m.name);
    }),
  );
  return known;
}

/** "10.0.0.11:6443 (master-1), ..." */
export function backendList(masters: { name: string; address: string }[], port: number): string {
  return masters
    .map((m) => `${m.address.includes(":") ? `[${m.address}]` : m.address}:${port} (${m.name})`)
    .join(", ");
}

/** What went wrong reaching the apiservers through the LB, in one clause. */
export function reachProblem(r: Reached): string {
  if (r.foreign) return `it answered with the certificate of something else (${r.foreign})`;
  return `no TLS handshake through it after ${r.tries} tries${r.error ? ` (${r.error})` : ""}`;
}

export async function externalLbFindings(
  lb: LoadBalancer,
  masters: ServingMaster[],
  port: number,
): Promise<Finding[]> {
  const known = await servingCertificates(masters, port);
  // From the primary: the LB must serve the cluster's own hosts, which is where clients are.
  const r = await backendsReached(masters[0]!.host, lb.address, lb.port, known, 6);
  if (r.seen.length > 0) return [];
  return [
    {
      severity: "error",
      host: "loadBalancer",
      message: `the external load balancer ${lb.address}:${lb.port} does not forward to ${masters[0]!.name}'s apiserver: ${reachProblem(r)}`,
      fix: `make it forward TCP (layer 4, TLS passed through, not terminated) on port ${lb.port} to ${backendList(masters.slice(0, 1), port)}; add ${backendList(masters.slice(1), port)} too (kubeha waits for them once they serve)`,
    },
  ];
}
