/**
 * keepalived mode: on each LB host, keepalived.conf written, checked with `keepalived -t`, and the
 * service started or reloaded; then the virtual address must sit on exactly one host and lead to an
 * apiserver. Runs after nginx is in place on every LB host (the health check goes through it).
 */
import { KubehaError } from "../errors.js";
import { KEEPALIVED_CONF, renderKeepalived } from "../render/keepalived.js";
import { backendsReached } from "../cluster/entry-point.js";
import { servingCertificates } from "../discover/external.js";
import { interfaceHolding } from "../discover/keepalived.js";
import { shellQuote } from "../ssh/shell-quote.js";
import type { Host } from "../ssh/types.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";

const VIP_TIMEOUT_MS = 30_000;

/** The keepalived.conf of LB host `name`, from the inventory and what discovery found there. */
export function keepalivedConf(ctx: StepContext, name: string): string {
  const lb = ctx.inventory.loadBalancer;
  const rank = lb.hosts.findIndex((h) => h.name === name);
  const self = lb.hosts[rank];
  const facts = ctx.discovery.hosts.find((h) => h.name === name && h.role === "loadBalancer")?.keepalived;
  const iface = lb.vrrp?.interface ?? facts?.interface;
  if (!self || !iface)
    throw new KubehaError(`${name}: no interface for the virtual address (set loadBalancer.interface)`);
  return renderKeepalived({
    name,
    address: self.address,
    peers: lb.hosts.filter((h) => h.name !== name).map((h) => h.address),
    rank,
    virtualAddress: lb.address,
    virtualRouterId: lb.vrrp?.virtualRouterId ?? 51,
    interface: iface,
    port: lb.port,
    ...(facts?.curl && { curl: facts.curl }),
  });
}

async function active(host: Host): Promise<boolean> {
  return (await host.exec("systemctl is-active --quiet keepalived")).code === 0;
}

/** The LB hosts whose interfaces hold the virtual address now. */
export async function vipHolders(ctx: StepContext): Promise<string[]> {
  const lb = ctx.inventory.loadBalancer;
  const held = await Promise.all(
    lb.hosts.map(async (h) => {
      const r = await ctx.host(h.name).exec("ip -o addr show");
      return interfaceHolding(r.stdout, lb.address) !== undefined ? h.name : "";
    }),
  );
  return held.filter(Boolean);
}

export async function keepalivedStep(ctx: StepContext, name: string): Promise<Step> {
  const lb = ctx.inventory.loadBalancer;
  let after = "";
  let problem = "";
  try {
    after = keepalivedConf(ctx, name);
  } catch (err) {
    problem = (err as Error).message;
  }
  const read = async (c: StepContext) => (await c.host(name).readFile(KEEPALIVED_CONF))?.toString("utf8");
  return {
    id: `keepalived/${name}`,
    phase: "load-balancer",
    host: name,
    title: `keepalived on ${name}: virtual address ${lb.address} (VRRP router ${lb.vrrp?.virtualRouterId})`,
    why: "one LB host holds the address clients use; when it or its nginx fails, another takes the address over within seconds",
    // The file written and the reload are the step's effects, recorded from `run` itself.
    files: [],
    details: [
      ...(problem ? [`PROBLEM (the step will stop here): ${problem}`] : []),
      `check it with \`keepalived -t\`, then reload keepalived (start and enable it when it does not run)`,
      "when the check fails, the previous file is put back and keepalived keeps running as it was",
    ],
    rollback: `on ${name}: systemctl stop keepalived; restore ${KEEPALIVED_CONF} from its newest ${KEEPALIVED_CONF}.kubeha-*.bak (or remove it)`,
    isDone: async (c) => (await read(c)) === after && (await active(c.host(name))),
    run: async (c) => {
      if (problem) throw new KubehaError(problem);
      const host = c.host(name);
      const before = await read(c);
      await host.run(shellQuote(["mkdir", "-p", "/etc/keepalived"]), { changes: true });
      if (before !== after) await host.writeFile(KEEPALIVED_CONF, after, { mode: 0o644, backup: true });
      const t = await host.exec(`keepalived -t -f ${KEEPALIVED_CONF} 2>&1`, { checksWrites: true });
      if (t.code !== 0) {
        if (before === undefined)
          await host.exec(shellQuote(["rm", "-f", KEEPALIVED_CONF]), { changes: true });
        else await host.writeFile(KEEPALIVED_CONF, before, { mode: 0o644 });
        throw new KubehaError(
          `${name}: keepalived -t rejected the configuration (${t.stdout.trim().split("\n").slice(-3).join(" | ")}); the previous file was put back`,
        );
      }
      const how = (await active(host))
        ? "systemctl reload keepalived"
        : "systemctl enable keepalived && systemctl start keepalived";
      await host.run(how, { changes: true });
      c.reporter.step(name, `keepalived: ${before === after ? "" : `wrote ${KEEPALIVED_CONF}; `}${how}`);
    },
    verify: async (c) => {
      if (!(await active(c.host(name)))) throw new KubehaError(`${name}: keepalived is not running`);
    },
  };
}

/** Exactly one host holds the address, and a TLS handshake through it reaches an apiserver. */
async function vipProblem(ctx: StepContext): Promise<string | undefined> {
  const lb = ctx.inventory.loadBalancer;
  const holders = await vipHolders(ctx);
  if (holders.length !== 1)
    return holders.length ? `held by ${holders.join(" and ")} at once` : "held by no LB host";
  // Every master serving now: once the others serve, the LB's round robin may answer with any of them.
  const masters = ctx.masters.map((m) => ({ ...m, host: ctx.host(m.name) }));
  const known = await servingCertificates(masters, ctx.cluster.securePort);
  const via = ctx.inventory.primary.name;
  const r = await backendsReached(ctx.host(via), lb.address, lb.port, known, 3);
  if (!r.seen.length)
    return `held by ${holders[0]}, but ${lb.address}:${lb.port} does not reach an apiserver from ${via} (${r.foreign ?? r.error ?? "no answer"})`;
  return undefined;
}

export function virtualAddressStep(ctx: StepContext): Step {
  const lb = ctx.inventory.loadBalancer;
  const names = lb.hosts.map((h) => h.name);
  let last: string | undefined;
  return {
    id: "keepalived/virtual-address",
    phase: "load-balancer",
    host: names[0]!,
    title: `virtual address ${lb.address} on exactly one of ${names.join(", ")}, reaching an apiserver`,
    why: "clients will be moved to this address: it must answer before anything depends on it",
    files: [],
    details: [
      `wait up to ${VIP_TIMEOUT_MS / 1000}s for VRRP to elect a holder (the first healthy host: ${names[0]})`,
    ],
    rollback: "nothing to undo here (see the keepalived steps)",
    isDone: async (c) => (await vipProblem(c)) === undefined,
    run: async (c) => {
      await c.until(async () => (last = await vipProblem(c)) === undefined, {
        timeoutMs: VIP_TIMEOUT_MS,
        what: `virtual address ${lb.address}`,
        lastError: () => last ?? "",
      });
      c.reporter.step(names[0]!, `virtual address ${lb.address} on ${(await vipHolders(c)).join(", ")}`);
    },
    verify: async (c) => {
      const p = await vipProblem(c);
      if (p) throw new KubehaError(`virtual address ${lb.address}: ${p}`);
      const holder = (await vipHolders(c))[0];
      const standby = names.filter((n) => n !== holder);
      return `${lb.address} on ${holder} (keepalived ready to move it to ${standby.join(", ")})`;
    },
  };
}
