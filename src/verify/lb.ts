/**
 * The entry point as its clients meet it: a port reaching it, a client with admin.conf's credentials
 * (also used by the failover tests), and the checks of it as a whole.
 */
import { KubeClient } from "../kube/client.js";
import { parseKubeconfig, type Material } from "../pki/kubeconfig.js";
import { backendsReached } from "../cluster/entry-point.js";
import { readSecret } from "../discover/primary.js";
import { servingCertificates } from "../discover/external.js";
import type { RunContext } from "../engine/context.js";
import type { Forward } from "../ssh/types.js";
import { check, fail, type Check } from "./check.js";
import { plural } from "../ui/plural.js";

/** The host the entry point is reached from: an LB host, or (external LB) the primary. */
function lbVantage(ctx: RunContext): string {
  return (ctx.inventory.loadBalancer.hosts[0] ?? ctx.inventory.primary).name;
}

/** A port on this machine that reaches the LB's client address and port, from `via` (default lbVantage()). */
export async function lbForward(ctx: RunContext, via = lbVantage(ctx)): Promise<Forward> {
  const lb = ctx.inventory.loadBalancer;
  return ctx.host(via).forward(lb.port, lb.address);
}

/**
 * A client through the LB with the credentials of the primary's admin.conf, whose server must be the
 * LB; the certificate is checked against the LB's address, as kubectl would.
 */
export async function lbClient(ctx: RunContext, fwd: Forward): Promise<KubeClient> {
  const primary = ctx.host(ctx.inventory.primary.name);
  const file = "/etc/kubernetes/admin.conf";
  const info = parseKubeconfig(await readSecret(primary, file), { file: `${primary.name}:${file}` });
  const pem = async (m: Material | undefined, what: string): Promise<string> => {
    if (!m) throw new Error(`${primary.name}:${file} has no ${what}`);
    return m.pem ?? (await readSecret(primary, m.file));
  };
  return new KubeClient({
    connectHost: "127.0.0.1",
    connectPort: fwd.localPort,
    serverName: new URL(info.server).hostname.replace(/^\[|\]$/g, ""),
    ca: await pem(info.ca, "certificate authority"),
    cert: await pem(info.clientCert, "client certificate"),
    key: await pem(info.clientKey, "client key"),
    label: `apiserver through the load balancer (${info.server})`,
  });
}

/** Which apiservers a round robin of connections through the LB meets, each told apart by its certificate. */
export async function lbRoundRobin(ctx: RunContext): Promise<Awaited<ReturnType<typeof backendsReached>>> {
  const lb = ctx.inventory.loadBalancer;
  const masters = ctx.masters.map((m) => ({ ...m, host: ctx.host(m.name) }));
  const known = await servingCertificates(masters, ctx.cluster.securePort);
  return backendsReached(ctx.host(lbVantage(ctx)), lb.address, lb.port, known);
}

/**
 * The checks of the entry point as a whole, which no step owns: the API answers through it with the
 * primary's admin.conf credentials, and a round robin of connections meets every apiserver (each
 * told apart by the certificate it serves; the steps check those certificates).
 */
export async function lbChecks(ctx: RunContext): Promise<Check[]> {
  const lb = ctx.inventory.loadBalancer;
  const via = lbVantage(ctx);
  // Both only read: at once.
  return Promise.all([
    check("API through the LB with admin.conf", async () => {
      const fwd = await lbForward(ctx, via).catch((err: unknown) =>
        fail(`cannot reach ${lb.address}:${lb.port} from ${via}: ${(err as Error).message}`),
      );
      try {
        const nodes = await (await lbClient(ctx, fwd)).get<{ items: unknown[] }>("/api/v1/nodes");
        return `GET /api/v1/nodes through ${lb.address}:${lb.port}: ${plural(nodes.items.length, "node")}`;
      } finally {
        await fwd.close();
      }
    }),
    check("LB reaches every apiserver", async () => {
      const r = await lbRoundRobin(ctx);
      if (r.foreign) fail(`the LB presented a certificate of no master (${r.foreign})`);
      const missing = ctx.masters.filter((m) => !r.seen.includes(m.name)).map((m) => m.name);
      if (missing.length)
        fail(
          `after ${plural(r.tries, "connection")}, never reached ${missing.join(", ")}${r.error ? ` (${r.error})` : ""}`,
        );
      return `${plural(r.seen.length, "apiserver")} seen in ${plural(r.tries, "connection")}`;
    }),
  ]);
}
