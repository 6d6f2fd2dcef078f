import { KubehaError } from "../errors.js";
import type { InventoryHost } from "../inventory/types.js";
import { SshHost, UnreachableError, connectFailure } from "../ssh/index.js";
import { settleAll } from "../ssh/limit.js";
import type { Host } from "../ssh/types.js";
import type { Reporter } from "../ui/reporter.js";
import { plural } from "../ui/plural.js";

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
  readFiles(): never {
    return this.fail();
  }
  writeFile(): never {
    return this.fail();
  }
  writeFiles(): never {
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

/** Connects the workers into `byName` (one that cannot be reached as an UnreachableHost), runs `fn`, always closes them. */
export async function withWorkers<T>(
  workers: readonly InventoryHost[],
  byName: Map<string, Host>,
  reporter: Reporter,
  fn: () => Promise<T>,
): Promise<T> {
  const connected = await connectWorkers(workers, reporter);
  for (const w of connected) byName.set(w.name, w);
  try {
    return await fn();
  } finally {
    await Promise.allSettled(connected.map((w) => (w instanceof SshHost ? w.close() : undefined)));
  }
}
