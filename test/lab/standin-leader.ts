/**
 * Leader election for the controller-manager and scheduler stand-ins, as client-go's LeaseLock does
 * it for the real components: a coordination.k8s.io/v1 Lease in kube-system named after the
 * component, holder `<hostname>_<uuid>`, 15 s lease, renewed every 2 s; a holder that cannot renew
 * for 10 s gives up and the component exits ("leaderelection lost"); another takes the lease once it
 * has seen the record unchanged for the lease's duration (by its own clock, not the holder's).
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { kubeRequest, type KubeTarget } from "./standin-kubeconfig.js";

const LEASE_SECONDS = 15;
const RENEW_DEADLINE_MS = 10_000;
const RETRY_MS = 2000;

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** Kubernetes' MicroTime: RFC 3339 with microseconds. */
const microTime = (d: Date): string => d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");

/** Runs forever; calls `lost` when leadership held is lost (the component then exits). */
export function electLeader(target: KubeTarget, name: string, lost: (why: string) => void): void {
  const identity = `${hostname()}_${randomUUID()}`;
  const path = `/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/${name}`;
  let observed = ""; // the record as last read, and when (our clock) it last changed
  let observedAt = 0;
  let leading = false;
  let lastRenew = 0;

  const attempt = async (): Promise<boolean> => {
    const now = new Date();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: LEASE_SECONDS,
      renewTime: microTime(now),
    };
    const got = await kubeRequest(target, "GET", path);
    if (got.status === 404) {
      const lease: Lease = {
        metadata: { name, namespace: "kube-system" },
        spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
      };
      const r = await kubeRequest(target, "POST", path.slice(0, path.lastIndexOf("/")), {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        ...lease,
      });
      return r.status === 201;
    }
    if (got.status !== 200) return false;
    const lease = JSON.parse(got.body) as Lease;
    const record = JSON.stringify(lease.spec ?? {});
    if (record !== observed) {
      observed = record;
      observedAt = Date.now();
    }
    const holder = lease.spec?.holderIdentity ?? "";
    const mine = holder === identity;
    if (!mine && holder && observedAt + LEASE_SECONDS * 1000 > Date.now()) return false;
    const next: Lease = {
      metadata: lease.metadata,
      spec: {
        ...spec,
        acquireTime: mine ? lease.spec?.acquireTime : microTime(now),
        leaseTransitions: (lease.spec?.leaseTransitions ?? 0) + (mine || !holder ? 0 : 1),
      },
    };
    const r = await kubeRequest(target, "PUT", path, {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      ...next,
    });
    return r.status === 200;
  };

  const tick = (): void => {
    void attempt()
      .catch(() => false)
      .then((ok) => {
        if (ok) {
          if (!leading) console.log(`${name} stand-in: acquired lease kube-system/${name} as ${identity}`);
          leading = true;
          lastRenew = Date.now();
        } else if (leading && Date.now() - lastRenew > RENEW_DEADLINE_MS) {
          lost(`failed to renew lease kube-system/${name} for ${RENEW_DEADLINE_MS / 1000}s`);
          return;
        }
        setTimeout(tick, RETRY_MS);
      });
  };
  tick();
}
