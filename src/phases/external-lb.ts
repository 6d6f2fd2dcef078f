/**
 * external mode: once every new apiserver serves, the operator's load balancer must reach all of them
 * before any client is moved to it. kubeha names the backends to add and waits, then stops clearly.
 */
import { KubehaError } from "../errors.js";
import { backendsReached } from "../cluster/entry-point.js";
import { backendList, reachProblem, servingCertificates } from "../discover/external.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";

/** How long the operator has to add the new backends. */
export const EXTERNAL_WAIT_MS = 600_000;

/** The masters the external LB does not reach yet (every one of them must serve first). */
async function unreached(ctx: StepContext): Promise<{ missing: string[]; why: string }> {
  const lb = ctx.inventory.loadBalancer;
  const masters = ctx.masters.map((m) => ({ name: m.name, address: m.address, host: ctx.host(m.name) }));
  const known = await servingCertificates(masters, ctx.cluster.securePort);
  const r = await backendsReached(
    ctx.host(ctx.inventory.primary.name),
    lb.address,
    lb.port,
    known,
    10 * ctx.masters.length,
  );
  const missing = ctx.masters.map((m) => m.name).filter((n) => !r.seen.includes(n));
  const notServing = ctx.masters.filter((m) => ![...known.values()].includes(m.name)).map((m) => m.name);
  const why = notServing.length
    ? `${notServing.join(", ")} not serving yet`
    : r.foreign || r.error
      ? reachProblem(r)
      : `reached ${r.seen.join(", ") || "none"} in ${r.tries} connections`;
  return { missing, why };
}

export function externalLbStep(ctx: StepContext): Step {
  const lb = ctx.inventory.loadBalancer;
  const port = ctx.cluster.securePort;
  const backends = backendList(ctx.masters, port);
  let last = "";
  return {
    id: "external-lb/backends",
    phase: "load-balancer",
    host: ctx.inventory.primary.name,
    title: `your load balancer ${lb.address}:${lb.port} reaches every apiserver`,
    why: "kubeha does not configure an external load balancer: it must forward to the new masters before clients are moved to it",
    files: [],
    details: [
      `its backends (TCP, TLS passed through): ${backends}`,
      `wait up to ${EXTERNAL_WAIT_MS / 60_000} minutes for a TLS handshake through it to meet each apiserver's own certificate, then stop`,
    ],
    rollback: "nothing to undo: this step only checks",
    isDone: async (c) => (await unreached(c)).missing.length === 0,
    run: async (c) => {
      const first = await unreached(c);
      if (first.missing.length === 0) return;
      c.reporter.warn(
        `add ${first.missing.join(", ")} to your load balancer ${lb.address}:${lb.port} (backends: ${backends}); waiting up to ${EXTERNAL_WAIT_MS / 60_000} minutes`,
      );
      try {
        await c.until(
          async () => {
            const u = await unreached(c);
            last = `${u.missing.join(", ")} not reached (${u.why})`;
            return u.missing.length === 0;
          },
          {
            timeoutMs: EXTERNAL_WAIT_MS,
            what: `${lb.address}:${lb.port} to reach every apiserver`,
            lastError: () => last,
            maxDelayMs: 5000,
          },
        );
      } catch (err) {
        throw new KubehaError(
          `${(err as Error).message}; add the backends ${backends} to your load balancer, then run kubeha apply again (clients still use ${ctx.inventory.primary.name})`,
        );
      }
      c.reporter.step(
        c.inventory.primary.name,
        `${lb.address}:${lb.port} reaches ${ctx.masters.map((m) => m.name).join(", ")}`,
      );
    },
    verify: async (c) => {
      const u = await unreached(c);
      if (u.missing.length)
        throw new KubehaError(`${lb.address}:${lb.port} does not reach ${u.missing.join(", ")} (${u.why})`);
    },
  };
}
