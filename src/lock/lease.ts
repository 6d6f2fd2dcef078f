/**
 * The cluster-wide lock: a coordination.k8s.io/v1 Lease in kube-system, so that two operators (or
 * two terminals) never change one cluster at once. Taken by create (409: someone holds it) or, when
 * it ran out, by an update on the resourceVersion seen (409: someone else was quicker); renewed while
 * the run goes on; deleted at the end with a precondition on our resourceVersion, so a lock that
 * passed to someone else is never removed.
 */
import { hostname, userInfo } from "node:os";
import { ExitCode, InputError, KubehaError } from "../errors.js";
import { KubeApiError, type KubeClient } from "../kube/client.js";
import type { Lease, LeaseSpec } from "../kube/types.js";
import type { RunContext } from "../engine/context.js";
import type { Reporter } from "../ui/reporter.js";
import {
  decide,
  expiryOf,
  heldMessage,
  holderIdentity,
  LEASE_NAME,
  LEASE_NAMESPACE,
  microTime,
  serverOffsetMs,
  type Self,
} from "./decide.js";

const COLLECTION = `/apis/coordination.k8s.io/v1/namespaces/${LEASE_NAMESPACE}/leases`;
const PATH = `${COLLECTION}/${LEASE_NAME}`;
/** Long enough to ride out an apiserver restart during a step; short enough that a dead run's lock clears soon. */
export const LEASE_SECONDS = 60;
const COMMAND_ANNOTATION = "kubeha.io/command";

/** This process, as a lock holder. */
function self(): Self {
  let user = process.env.USER ?? "unknown";
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (a container): keep $USER.
  }
  return {
    user,
    host: hostname(),
    pid: process.pid,
    isAlive: (pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch (err) {
        // EPERM: it runs, as another user.
        return (err as NodeJS.ErrnoException).code === "EPERM";
      }
    },
  };
}

/**
 * Calls `fn` on the first apiserver that answers: the primary's, else another master's (while
 * `verify --failover` stops the primary's). An HTTP error is an answer; only transport errors move on.
 */
async function firstAnswering<T>(
  clients: (() => Promise<KubeClient>)[],
  fn: (c: KubeClient) => Promise<T>,
): Promise<T> {
  let last: unknown;
  for (const client of clients) {
    try {
      return await fn(await client());
    } catch (err) {
      if (err instanceof KubeApiError) throw err;
      last = err;
    }
  }
  throw last;
}

function leaseObject(spec: LeaseSpec, command: string, resourceVersion?: string): Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      name: LEASE_NAME,
      namespace: LEASE_NAMESPACE,
      ...(resourceVersion ? { resourceVersion } : {}),
      annotations: { [COMMAND_ANNOTATION]: command },
      labels: { "app.kubernetes.io/managed-by": "kubeha" },
    },
    spec,
  };
}

/** The apiservers a run can ask, the primary's first: every master it has a connection to. */
export function lockClients(run: RunContext): (() => Promise<KubeClient>)[] {
  return run.masters.filter((m) => run.hosts.has(m.name)).map((m) => () => run.kube(m.name));
}

/** Reads the lease and decides; refuses (exit 2) naming its holder when another run holds it. */
async function look(clients: (() => Promise<KubeClient>)[], me: Self) {
  const { current, offsetMs } = await firstAnswering(clients, async (c) => {
    const sent = Date.now();
    const lease = await c.getOptional<Lease>(PATH);
    return { current: lease, offsetMs: serverOffsetMs(sent, Date.now(), c.serverDate) };
  });
  const now = new Date(Date.now() + offsetMs);
  const decision = decide(current?.spec, now, me);
  if (decision.kind === "held") {
    const cmd = current?.metadata.annotations as Record<string, string> | undefined;
    throw new InputError(heldMessage(decision, cmd?.[COMMAND_ANNOTATION]));
  }
  return { current, offsetMs, now, decision };
}

export class ClusterLock {
  private lost?: string;
  private renewing?: Promise<void>;
  private releasing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private lastRenewed: Date;

  private constructor(
    private readonly clients: (() => Promise<KubeClient>)[],
    private readonly reporter: Reporter,
    private readonly command: string,
    private readonly identity: string,
    private lease: Lease,
    private readonly offsetMs: number,
  ) {
    this.lastRenewed = this.now();
  }

  /** The apiserver's time, as measured when the lock was taken. */
  private now(): Date {
    return new Date(Date.now() + this.offsetMs);
  }

  /**
   * Refuses (exit 2) when another run holds the lock, without taking it: asked before a question, so
   * that an operator is not asked to confirm a plan another run is already carrying out.
   */
  static async refuseIfHeld(clients: (() => Promise<KubeClient>)[]): Promise<void> {
    await look(clients, self());
  }

  /**
   * Takes the lock or refuses (exit 2) naming its holder. `clients`: apiservers to ask, in order.
   * `command`: what this run is ("apply"), shown to whoever is refused.
   */
  static async acquire(
    clients: (() => Promise<KubeClient>)[],
    reporter: Reporter,
    command: string,
  ): Promise<ClusterLock> {
    const me = self();
    const identity = holderIdentity(me);
    const call = <T>(fn: (c: KubeClient) => Promise<T>) => firstAnswering(clients, fn);
    // Two rounds: a create or takeover that loses a race reads the winner's lease and refuses.
    for (let round = 0; round < 2; round++) {
      const { current, offsetMs, now, decision } = await look(clients, me);
      const spec: LeaseSpec = {
        holderIdentity: identity,
        leaseDurationSeconds: LEASE_SECONDS,
        acquireTime: microTime(now),
        renewTime: microTime(now),
      };
      try {
        const taken =
          decision.kind === "free" && !current
            ? await call((c) => c.create(COLLECTION, leaseObject(spec, command)))
            : await call((c) =>
                c.update(PATH, leaseObject(spec, command, current!.metadata.resourceVersion)),
              );
        if (decision.kind === "takeover") {
          reporter.warn(
            `took over the cluster lock ${LEASE_NAMESPACE}/${LEASE_NAME} from ${decision.holder}` +
              `${decision.since ? ` (held since ${decision.since.toISOString()})` : ""}: ${decision.why}`,
          );
        }
        reporter.info(`cluster lock ${LEASE_NAMESPACE}/${LEASE_NAME} taken: ${identity}`);
        const lock = new ClusterLock(clients, reporter, command, identity, taken, offsetMs);
        lock.timer = setInterval(() => void lock.renew(), (LEASE_SECONDS / 3) * 1000);
        lock.timer.unref();
        return lock;
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409)) throw err;
        // AlreadyExists or Conflict: another run got there first; look again.
      }
    }
    throw new InputError(
      `cluster lock ${LEASE_NAMESPACE}/${LEASE_NAME}: changed under us twice; another kubeha run is starting. Nothing was changed.`,
    );
  }

  /**
   * Renews the lease now. A lease that someone else now holds, or that was deleted, is lost for good;
   * a transient error (an apiserver restarting) is only fatal once the lease may have run out.
   */
  renew(): Promise<void> {
    this.renewing ??= this.renewOnce().finally(() => (this.renewing = undefined));
    return this.renewing;
  }

  private async renewOnce(): Promise<void> {
    if (this.lost) return;
    const now = this.now();
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const next = leaseObject(
            { ...this.lease.spec, renewTime: microTime(now) },
            this.command,
            this.lease.metadata.resourceVersion,
          );
          const t0 = Date.now();
          this.lease = await this.call((c) => c.update(PATH, next));
          this.lastRenewed = now;
          this.reporter.debug(`cluster lock renewed (${Date.now() - t0} ms)`);
          return;
        } catch (err) {
          if (!(err instanceof KubeApiError && (err.status === 409 || err.status === 404))) throw err;
          const current = await this.call((c) => c.getOptional<Lease>(PATH));
          // Our own earlier renewal whose answer was lost: retry on its version.
          if (attempt === 0 && this.isOurs(current)) {
            this.lease = current!;
            continue;
          }
          this.lost = current?.spec?.holderIdentity
            ? `it is now held by ${current.spec.holderIdentity}${current.spec.acquireTime ? ` since ${current.spec.acquireTime}` : ""}`
            : "it was deleted";
          return;
        }
      }
    } catch (err) {
      const expiry = expiryOf({ ...this.lease.spec, renewTime: microTime(this.lastRenewed) });
      this.reporter.debug(`cluster lock: renewal failed: ${(err as Error).message}`);
      if (expiry && expiry.getTime() <= this.now().getTime()) {
        this.lost = `it could not be renewed since ${this.lastRenewed.toISOString()} (${(err as Error).message}), so another run may hold it`;
      }
    }
  }

  private call<T>(fn: (c: KubeClient) => Promise<T>): Promise<T> {
    return firstAnswering(this.clients, fn);
  }

  /** Still the lease this run took: same holder, same start (a renewal's answer may have been lost). */
  private isOurs(current: Lease | undefined): boolean {
    return (
      current?.spec?.holderIdentity === this.identity &&
      current.spec.acquireTime === this.lease.spec?.acquireTime
    );
  }

  /** At a step boundary: renews, and stops the run when the lock is no longer ours. */
  async checkpoint(): Promise<void> {
    await this.renew();
    if (this.lost) {
      throw new KubehaError(
        `lost the cluster lock ${LEASE_NAMESPACE}/${LEASE_NAME}: ${this.lost}. Stopped before the next step; ` +
          `once the other run is finished, check the cluster (kubeha plan) and run kubeha apply again to resume`,
        ExitCode.failed,
      );
    }
  }

  /**
   * Deletes the lease if it is still ours (precondition on our resourceVersion); never throws. Once
   * only; `withinMs` bounds the wait (Ctrl-C must not hang on an apiserver that does not answer).
   */
  release(withinMs?: number): Promise<void> {
    this.releasing ??= this.releaseOnce();
    if (withinMs === undefined) return this.releasing;
    return Promise.race([this.releasing, new Promise<void>((r) => setTimeout(r, withinMs).unref())]);
  }

  private async releaseOnce(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
    if (this.lost) {
      this.reporter.warn(`cluster lock ${LEASE_NAMESPACE}/${LEASE_NAME} left as it is: ${this.lost}`);
      return;
    }
    try {
      for (let attempt = 0; ; attempt++) {
        try {
          const rv = this.lease.metadata.resourceVersion;
          await this.call((c) => c.delete(PATH, { resourceVersion: rv }));
          this.reporter.info(`cluster lock ${LEASE_NAMESPACE}/${LEASE_NAME} released`);
          return;
        } catch (err) {
          if (!(err instanceof KubeApiError && err.status === 409)) throw err;
          const current = await this.call((c) => c.getOptional<Lease>(PATH));
          if (attempt === 0 && this.isOurs(current)) {
            this.lease = current!;
            continue;
          }
          this.reporter.warn(
            `cluster lock ${LEASE_NAMESPACE}/${LEASE_NAME} left as it is: it is now held by ${current?.spec?.holderIdentity ?? "nobody"}`,
          );
          return;
        }
      }
    } catch (err) {
      this.reporter.warn(
        `cluster lock ${LEASE_NAMESPACE}/${LEASE_NAME} not released (${(err as Error).message}); ` +
          `it expires ${LEASE_SECONDS}s after its last renewal, or remove it: kubectl -n ${LEASE_NAMESPACE} delete lease ${LEASE_NAME}`,
      );
    }
  }
}
