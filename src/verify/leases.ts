/**
 * The controller-manager's and scheduler's leader Leases (kube-system, named after the component;
 * holder `<hostname>_<uuid>`, as client-go's leader election writes it). `verify --failover` checks
 * that, with the primary's control plane stopped, a live component on another master holds each.
 */
import type { KubeClient } from "../kube/client.js";
import type { Lease } from "../kube/types.js";
import { pollUntil } from "../poll.js";
import type { Check } from "./check.js";

export const LEADER_LEASES = ["kube-controller-manager", "kube-scheduler"] as const;

export interface Leader {
  lease: string;
  /** "" when nobody holds it (never taken, or released). */
  holder: string;
  renewTime: string;
}

const leasePath = (name: string): string =>
  `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`;

/** Whether a holder identity is a component on the host with this hostname. */
export function heldFrom(holder: string, hostname: string): boolean {
  return holder.startsWith(`${hostname}_`);
}

export async function readLeaders(kube: KubeClient): Promise<Leader[]> {
  return Promise.all(
    LEADER_LEASES.map(async (lease) => {
      const l = await kube.getOptional<Lease>(leasePath(lease));
      return { lease, holder: l?.spec?.holderIdentity ?? "", renewTime: l?.spec?.renewTime ?? "" };
    }),
  );
}

/**
 * Waits until each leader Lease is held from another host than `hostname` and renewed since that
 * holder was first seen (a live holder, not a stale record); one check per lease.
 */
export async function leadersElsewhere(
  kube: KubeClient,
  hostname: string,
  before: Leader[],
  timeoutMs: number,
): Promise<Check[]> {
  const t0 = Date.now();
  const checks: Check[] = [];
  for (const b of before) {
    const name = `failover: ${b.lease} leader`;
    let first: Leader | undefined;
    let now: Leader = b;
    try {
      await pollUntil(
        async () => {
          now = (await readLeaders(kube)).find((l) => l.lease === b.lease)!;
          if (!now.holder || heldFrom(now.holder, hostname)) return false;
          if (first?.holder !== now.holder) first = now;
          return now.renewTime !== first.renewTime;
        },
        {
          timeoutMs: Math.max(1000, timeoutMs - (Date.now() - t0)),
          what: `lease kube-system/${b.lease} to be held and renewed from another master than ${hostname}`,
          lastError: () => `held by "${now.holder}", renewed ${now.renewTime || "never"}`,
        },
      );
      const after = ((Date.now() - t0) / 1000).toFixed(1);
      checks.push({
        name,
        ok: true,
        detail:
          b.holder === now.holder
            ? `stayed with ${now.holder}, renewed`
            : `moved from ${b.holder || "nobody"} to ${now.holder}, renewed, ${after}s after the primary stopped`,
      });
    } catch (err) {
      checks.push({ name, ok: false, detail: (err as Error).message });
    }
  }
  return checks;
}
