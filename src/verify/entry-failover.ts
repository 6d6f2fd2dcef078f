/**
 * `verify --failover`, the entry point's part. keepalived: stop keepalived on the host holding the
 * virtual address, see the address move to another LB host within seconds and a write through it
 * succeed, then start keepalived again. A single-host entry point cannot be failed over: say so.
 */
import { objectPath } from "../kube/client.js";
import { vipHolders } from "../phases/keepalived.js";
import { pollUntil } from "../poll.js";
import type { RunContext } from "../engine/context.js";
import { masterOf } from "../inventory/types.js";
import { lbClient, lbForward } from "./lb.js";
import { probeObject, writeProbe } from "./failover.js";
import type { Check } from "./check.js";

const MOVE_TIMEOUT_MS = 15_000;
const WRITE_TIMEOUT_MS = 30_000;

/** Why a single-host entry point is not failed over (a warning, not a pass pretending otherwise). */
function singlePointOfFailure(ctx: RunContext): Check {
  const lb = ctx.inventory.loadBalancer;
  const host = lb.hosts[0]?.name ?? "";
  const master = masterOf(ctx.inventory, host);
  const detail =
    lb.mode === "external"
      ? `not tested: ${lb.address}:${lb.port} is your load balancer, which kubeha does not stop; it is as available as you made it`
      : `not tested: nginx on ${host} is the only way in, a single point of failure: without ${host} every client loses the API${master ? ` (and ${host} is a master: its loss takes an apiserver and the entry point at once)` : ""}; keepalived mode removes it`;
  return { name: "failover: entry point", ok: true, warning: true, detail };
}

export async function entryPointFailover(ctx: RunContext): Promise<Check[]> {
  const lb = ctx.inventory.loadBalancer;
  if (lb.mode !== "keepalived") return [singlePointOfFailure(ctx)];
  const checks: Check[] = [];
  const [holder, ...more] = await vipHolders(ctx);
  if (!holder || more.length)
    return [
      {
        name: "failover: virtual address",
        ok: false,
        detail: `held by ${[holder, ...more].join(" and ") || "no host"}`,
      },
    ];
  const host = ctx.host(holder);
  const primary = ctx.inventory.primary.name;
  const probeName = `kubeha-lb-failover-${Date.now().toString(36)}`;
  const t0 = Date.now();
  let stopped = false;
  const onSigint = (): void => {
    ctx.reporter.error(`interrupted: starting keepalived on ${holder} again`);
    void host.exec("systemctl start keepalived").finally(() => process.exit(3));
  };
  process.once("SIGINT", onSigint);
  try {
    await host.run("systemctl stop keepalived");
    stopped = true;
    ctx.reporter.step(holder, "failover: stopped keepalived (it held the virtual address)");
    let now: string[] = [];
    await pollUntil(async () => (now = await vipHolders(ctx)).length === 1 && now[0] !== holder, {
      timeoutMs: MOVE_TIMEOUT_MS,
      what: `${lb.address} to move away from ${holder}`,
      lastError: () => `held by ${now.join(" and ") || "no host"}`,
      maxDelayMs: 250,
    });
    checks.push({
      name: "failover: virtual address moved",
      ok: true,
      detail: `${lb.address} moved from ${holder} to ${now[0]} ${((Date.now() - t0) / 1000).toFixed(1)}s after keepalived stopped`,
    });
    // Written as a client would: from the primary, through the address, to whichever nginx holds it.
    const fwd = await lbForward(ctx, primary);
    try {
      const kube = await lbClient(ctx, fwd);
      const t1 = Date.now();
      const purpose = `kubeha verify --failover: written through ${lb.address} with keepalived stopped on ${holder}`;
      await writeProbe(
        kube,
        probeObject(probeName, purpose),
        `a write through ${lb.address}`,
        WRITE_TIMEOUT_MS,
      );
      await kube.get(objectPath("configmaps", probeName, "kube-system"));
      await kube.delete(objectPath("configmaps", probeName, "kube-system"));
      checks.push({
        name: "failover: write through the virtual address",
        ok: true,
        detail: `ConfigMap kube-system/${probeName} created, read back and deleted through ${lb.address}:${lb.port} (${now[0]}) ${((Date.now() - t1) / 1000).toFixed(1)}s after the move`,
      });
    } finally {
      await fwd.close();
    }
  } catch (err) {
    checks.push({ name: "failover: entry point", ok: false, detail: (err as Error).message });
  } finally {
    try {
      if (stopped) {
        await host.run("systemctl start keepalived");
        await pollUntil(async () => (await host.exec("systemctl is-active --quiet keepalived")).code === 0, {
          timeoutMs: MOVE_TIMEOUT_MS,
          what: `keepalived on ${holder} to run again`,
        });
        checks.push({
          name: "failover: keepalived restored",
          ok: true,
          detail: `keepalived runs again on ${holder}`,
        });
      }
    } catch (err) {
      checks.push({
        name: "failover: keepalived restored",
        ok: false,
        detail: `${(err as Error).message}; start it: systemctl start keepalived on ${holder}`,
      });
    } finally {
      process.removeListener("SIGINT", onSigint);
    }
  }
  return checks;
}
