import { ExitCode, KubehaError } from "../errors.js";
import type { InventoryHost } from "../inventory/types.js";
import { SshHost } from "./host.js";
import { settleAll } from "./limit.js";
import { plural } from "../ui/plural.js";
import type { SshObserver } from "./types.js";

/**
 * Connects to every host, at most `concurrency` at a time, in the order given. If any fails, the others are
 * closed and one error lists every failure, one host per line; it is bad input (exit 2) when any of them
 * is (a refused host key, an unusable identity file).
 */
export async function connectAll(
  hosts: readonly InventoryHost[],
  { concurrency = 8, observer }: { concurrency?: number; observer?: SshObserver } = {},
): Promise<SshHost[]> {
  const results = await settleAll(
    hosts.map((h) => () => SshHost.connect(h, { ...(observer && { observer }) })),
    concurrency,
  );
  const connected = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failures = results.flatMap((r) => (r.status === "rejected" ? [r.reason as unknown] : []));
  if (failures.length === 0) return connected;
  await closeAll(connected);
  throw connectFailure(failures, hosts.length);
}

/** One error for the failed connections of a set, one host per line (one line for one); exit 2 if any is bad input. */
export function connectFailure(failures: readonly unknown[], of: number): KubehaError {
  const lines = failures.map((f) => (f instanceof Error ? f.message : String(f)));
  const refused = failures.some((f) => f instanceof KubehaError && f.exitCode === ExitCode.badInput);
  const head = `cannot connect to ${failures.length} of ${plural(of, "host")}:`;
  return new KubehaError(
    failures.length === 1 ? `${head} ${lines[0]}` : `${head}\n${lines.join("\n")}`,
    refused ? ExitCode.badInput : ExitCode.failed,
  );
}

/** Closes every connection; never throws. */
export async function closeAll(hosts: readonly SshHost[]): Promise<void> {
  await Promise.allSettled(hosts.map((h) => h.close()));
}
