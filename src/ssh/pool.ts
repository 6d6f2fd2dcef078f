import { KubehaError } from "../errors.js";
import type { InventoryHost } from "../inventory/types.js";
import { SshHost } from "./host.js";
import { settleAll } from "./limit.js";
import { plural } from "../ui/plural.js";

/**
 * Connects to every host, at most `concurrency` at a time, in the order given. If any fails, the others are
 * closed and one error lists every failure, one host per line.
 */
export async function connectAll(
  hosts: readonly InventoryHost[],
  { concurrency = 8 }: { concurrency?: number } = {},
): Promise<SshHost[]> {
  const results = await settleAll(
    hosts.map((h) => () => SshHost.connect(h)),
    concurrency,
  );
  const connected = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failures = results.flatMap((r) =>
    r.status === "rejected" ? [r.reason instanceof Error ? r.reason.message : String(r.reason)] : [],
  );
  if (failures.length === 0) return connected;
  await closeAll(connected);
  throw new KubehaError(
    `cannot connect to ${failures.length} of ${plural(hosts.length, "host")}:\n${failures.join("\n")}`,
  );
}

/** Closes every connection; never throws. */
export async function closeAll(hosts: readonly SshHost[]): Promise<void> {
  await Promise.allSettled(hosts.map((h) => h.close()));
}
