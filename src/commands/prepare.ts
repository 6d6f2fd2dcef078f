import type { CommandContext } from "./context.js";
import { InputError } from "../errors.js";
import { discover } from "../discover/index.js";
import { controlHosts, type Inventory } from "../inventory/types.js";
import type { Finding } from "../discover/types.js";
import { RunContext } from "../engine/context.js";
import { formatFindings } from "./discover.js";
import { inventoryFrom, withHosts } from "./session.js";
import type { Host } from "../ssh/types.js";
import { plural } from "../ui/plural.js";
import { withWorkers } from "./worker-hosts.js";

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
  const hosts = controlHosts(inv);
  ctx.reporter.info(`connecting to ${plural(hosts.length, "host")} (${hosts.map((h) => h.name).join(", ")})`);
  return withHosts(
    hosts,
    (byName) => withWorkers(inv.workers, byName, ctx.reporter, () => withDiscovery(byName)),
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
