import { loadInventory } from "../inventory/index.js";
import type { Inventory, InventoryHost } from "../inventory/types.js";
import { connectAll, closeAll } from "../ssh/index.js";
import type { Host, SshObserver } from "../ssh/types.js";
import { join } from "node:path";
import { InputError } from "../errors.js";
import type { CommandContext } from "./context.js";

export async function inventoryFrom(ctx: CommandContext): Promise<Inventory> {
  const path = ctx.values.inventory;
  if (typeof path !== "string") throw new InputError("missing --inventory (-i) FILE");
  const inv = await loadInventory(path, { onWarning: (w) => ctx.reporter.warn(w) });
  const stamp = new Date()
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  ctx.reporter.attachLog(join(inv.options.stateDir, "logs", `${ctx.command}-${stamp}.log`));
  return inv;
}

/** Opens one SSH connection per host (in parallel), runs `fn`, and always closes them. */
export async function withHosts<T>(
  hosts: readonly InventoryHost[],
  fn: (byName: Map<string, Host>) => Promise<T>,
  observer?: SshObserver,
): Promise<T> {
  const connected = await connectAll(hosts, { concurrency: 8, ...(observer && { observer }) });
  try {
    return await fn(new Map(connected.map((h) => [h.name, h as Host])));
  } finally {
    await closeAll(connected);
  }
}
