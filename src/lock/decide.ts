/**
 * The cluster lock's pure part: who holds the Lease, until when, and whether this run may take it.
 * The Lease itself is read and written by ./lease.ts.
 */
import type { LeaseSpec } from "../kube/types.js";

/** Where the lock lives: one Lease for the whole cluster. */
export const LEASE_NAMESPACE = "kube-system";
export const LEASE_NAME = "kubeha-lock";

/** One kubeha run: user@machine pid N; how other operators see the holder. */
export interface Holder {
  user: string;
  host: string;
  pid: number;
}

/** The machine this run is on, for telling whether a holder on it is still alive. */
export interface Self extends Holder {
  isAlive(pid: number): boolean;
}

export type LockDecision =
  | { kind: "free" }
  | { kind: "held"; holder: string; since?: Date; expires?: Date }
  | { kind: "takeover"; holder: string; since?: Date; why: string };

export function holderIdentity(h: Holder): string {
  return `${h.user}@${h.host} pid ${h.pid}`;
}

export function parseHolder(identity: string): Holder | undefined {
  const m = /^(.+)@(\S+) pid (\d+)$/.exec(identity);
  return m ? { user: m[1]!, host: m[2]!, pid: Number(m[3]) } : undefined;
}

/** A MicroTime ("2024-05-01T10:00:00.000000Z"): the API rejects other precisions. */
export function microTime(d: Date): string {
  return d.toISOString().replace(/Z$/, "000Z");
}

/**
 * How far the apiserver's clock is ahead of this machine's, from one request sent at `sentMs` and
 * answered at `receivedMs` with a Date header (whole seconds, hence the half second). Lease times are
 * the apiserver's, so that two workstations whose clocks disagree still agree on when a lease runs out.
 */
export function serverOffsetMs(sentMs: number, receivedMs: number, serverDate: Date | undefined): number {
  return serverDate ? serverDate.getTime() + 500 - (sentMs + receivedMs) / 2 : 0;
}

function date(s: string | undefined): Date | undefined {
  const t = s ? Date.parse(s) : NaN;
  return Number.isNaN(t) ? undefined : new Date(t);
}

/** When the lease runs out if not renewed: last renewal (or acquisition) plus its duration. */
export function expiryOf(spec: LeaseSpec): Date | undefined {
  const last = date(spec.renewTime) ?? date(spec.acquireTime);
  if (!last || !spec.leaseDurationSeconds) return undefined;
  return new Date(last.getTime() + spec.leaseDurationSeconds * 1000);
}

/**
 * May this run take the lock? No lease (or no holder): free. A lease that ran out, or whose holder
 * is a process of this same machine that no longer runs (a killed run being resumed), is taken over.
 * Anything else is held; a lease without times is held until someone removes it, since nothing
 * says its holder is gone.
 */
export function decide(spec: LeaseSpec | undefined, now: Date, self: Self): LockDecision {
  const holder = spec?.holderIdentity;
  if (!spec || !holder) return { kind: "free" };
  const since = date(spec.acquireTime);
  const expires = expiryOf(spec);
  if (expires && expires.getTime() <= now.getTime()) {
    return { kind: "takeover", holder, since, why: `it expired at ${expires.toISOString()}` };
  }
  const h = parseHolder(holder);
  if (h && h.host === self.host && (h.pid === self.pid || !self.isAlive(h.pid))) {
    return { kind: "takeover", holder, since, why: `process ${h.pid} no longer runs on ${h.host}` };
  }
  return { kind: "held", holder, since, expires };
}

/** The refusal's one line: who, since when, until when, and how to clear a lock left behind. */
export function heldMessage(d: Extract<LockDecision, { kind: "held" }>, command?: string): string {
  const since = d.since ? ` since ${d.since.toISOString()}` : "";
  const until = d.expires
    ? `it expires at ${d.expires.toISOString()} unless renewed`
    : "it has no renew time, so it does not expire";
  const what = command ? ` (kubeha ${command})` : "";
  return (
    `another kubeha run holds the cluster lock: ${d.holder}${what}${since}; ${until}. ` +
    `Nothing was changed. Wait for it to finish; if that run is gone for good: kubectl -n ${LEASE_NAMESPACE} delete lease ${LEASE_NAME}`
  );
}
