/**
 * What a master's apiserver shows its clients: /readyz, and a serving certificate from the cluster's
 * CA valid for the master's own address and the load balancer's names and for no other master's.
 */
import type { InventoryHost } from "../inventory/types.js";
import { servedCertificate } from "../cluster/tls.js";
import { servingProblems } from "../pki/check.js";
import type { StepContext } from "../engine/step-context.js";

/** Why `node`'s apiserver is not ready (undefined: /readyz answers 200). */
export async function readyzProblem(ctx: StepContext, node: InventoryHost): Promise<string | undefined> {
  const kube = await ctx.kube(node.name);
  const r = await kube.raw("/readyz").catch((err: unknown) => ({ status: 0, body: (err as Error).message }));
  if (r.status === 200) return undefined;
  return `apiserver /readyz: ${r.status || ""} ${r.body.trim().split("\n").slice(-3).join(" ")}`;
}

/** The names `node`'s serving certificate must be valid for, and those it must not be. */
export function servingNames(ctx: StepContext, node: InventoryHost): { valid: string[]; invalid: string[] } {
  const lb = ctx.inventory.loadBalancer;
  // An LB on a master has that master's address, which every apiserver's certificate must then name.
  const invalid = ctx.masters
    .filter((o) => o.name !== node.name && o.address !== lb.address)
    .map((o) => o.address);
  return { valid: [node.address, lb.address, ...(lb.dnsName ? [lb.dnsName] : [])], invalid };
}

/** Why the certificate `node`'s apiserver serves is not what its clients accept (undefined: it is). */
export async function servingProblem(ctx: StepContext, node: InventoryHost): Promise<string | undefined> {
  const cert = await servedCertificate(ctx.host(node.name), ctx.cluster.securePort).catch(
    (err: unknown) => err as Error,
  );
  if (cert instanceof Error) return `serving certificate: ${cert.message}`;
  const { valid, invalid } = servingNames(ctx, node);
  const problems = servingProblems(cert, (await ctx.material()).cas.ca.certPem, valid, invalid);
  return problems.length ? `serving certificate: ${problems.join("; ")}` : undefined;
}
