import type { CommandContext } from "./context.js";
import { InputError, KubehaError } from "../errors.js";
import { discover } from "../discover/index.js";
import type { Inventory } from "../inventory/types.js";
import type { Finding } from "../discover/types.js";
import { RunContext } from "../phases/context.js";
import { formatFindings } from "./discover.js";
import { inventoryFrom, withHosts } from "./session.js";
import { SshHost, UnreachableError, connectFailure } from "../ssh/index.js";
import { settleAll } from "../ssh/limit.js";
import type { InventoryHost } from "../inventory/types.js";
import type { Host } from "../ssh/types.js";
import type { Reporter } from "../ui/reporter.js";
import { plural } from "../ui/plural.js";

/**
 * The start of plan, apply and verify: read the inventory, connect to every host, discover, and
 * refuse (exit 2, nothing changed) when discovery found something that blocks the conversion.
 */
export async function withRunContext<T>(
  ctx: CommandContext,
  fn: (run: RunContext, inv: Inventory) => Promise<T>,
  options: {
    refuseOnFindings?: boolean;
    retiring?: string[];
    /** Which blocking findings refuse this command (default: all). */
    blocks?: (f: Finding, inv: Inventory) => boolean;
  } = {},
): Promise<T> {
  const inv = await inventoryFrom(ctx);
  const hosts = [inv.primary, ...inv.masters, inv.loadBalancer.host];
  ctx.reporter.info(`connecting to ${plural(hosts.length, "host")} (${hosts.map((h) => h.name).join(", ")})`);
  return withHosts(
    hosts,
    async (byName) => {
      const workers = await connectWorkers(inv.workers, ctx.reporter);
      for (const w of workers) byName.set(w.name, w);
      try {
        return await withDiscovery(byName);
      } finally {
        await Promise.allSettled(workers.map((w) => (w instanceof SshHost ? w.close() : undefined)));
      }
    },
    ctx.reporter,
  );

  async function withDiscovery(byName: Map<string, Host>): Promise<T> {
    const discovery = await discover(inv, byName, { retiring: options.retiring });
    const blocking = discovery.findings.filter(
      (f) => f.severity === "error" && (options.blocks?.(f, inv) ?? true),
    );
    for (const w of discovery.findings.filter((f) => f.severity === "warning"))
      ctx.reporter.warn(`${w.host}: ${w.message}`);
    if (blocking.length && options.refuseOnFindings !== false) {
      throw new InputError(
        `preflight refused: ${plural(blocking.length, "blocking finding")}; nothing was changed\n${formatFindings(blocking).join("\n")}`,
      );
    }
    const run = await RunContext.open(inv, discovery, byName, ctx.reporter);
    try {
      return await fn(run, inv);
    } finally {
      await run.close();
    }
  }
}

/**
 * A worker that could not be reached: every use says so, naming the host and why. Workers are
 * connected apart from the control plane so that one down worker does not stop the run; the step
 * that needs it skips it and names it at the end.
 */
export class UnreachableHost implements Host {
  constructor(
    readonly name: string,
    readonly address: string,
    readonly reason: string,
  ) {}
  private fail(): never {
    throw new KubehaError(`${this.name} (${this.address}) is unreachable: ${this.reason}`);
  }
  exec(): never {
    return this.fail();
  }
  run(): never {
    return this.fail();
  }
  readFile(): never {
    return this.fail();
  }
  writeFile(): never {
    return this.fail();
  }
  forward(): never {
    return this.fail();
  }
}

/**
 * One connection per worker, in parallel. A worker that cannot be reached at all becomes an UnreachableHost
 * and a warning; any other failure (a changed or unknown host key: a possible man-in-the-middle; a failed
 * login) stops the run here, before any change.
 */
async function connectWorkers(workers: readonly InventoryHost[], reporter: Reporter): Promise<Host[]> {
  if (workers.length === 0) return [];
  reporter.info(`connecting to ${plural(workers.length, "worker")}`);
  const results = await settleAll(
    workers.map((w) => () => SshHost.connect(w, { observer: reporter })),
    8,
  );
  const refused = results.flatMap((r) =>
    r.status === "rejected" && !(r.reason instanceof UnreachableError) ? [r.reason as unknown] : [],
  );
  if (refused.length) {
    await Promise.allSettled(results.map((r) => (r.status === "fulfilled" ? r.value.close() : undefined)));
    throw connectFailure(refused, workers.length);
  }
  return workers.map((w, i) => {
    const r = results[i]!;
    if (r.status === "fulfilled") return r.value;
    const reason = r.reason instanceof Error ? r.reason.message : String(r.reason);
    reporter.warn(
      `${w.name}: cannot connect (${reason}); the other hosts go on, it is named again at the end`,
    );
    return new UnreachableHost(w.name, w.address, reason);
  });
}
