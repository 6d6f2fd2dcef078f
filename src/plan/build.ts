import type { RunContext } from "../engine/context.js";
import { newMasterPkiSteps, primaryApiserverCertStep } from "../phases/pki.js";
import { etcdJoinStep } from "../phases/etcd.js";
import { primaryEtcdPeerStep } from "../phases/etcd-peer.js";
import { controlPlaneHealthStep, controlPlaneStep } from "../phases/control-plane.js";
import { entryPointSteps } from "../phases/entry-point.js";
import { externalLbStep } from "../phases/external-lb.js";
import { clientSteps } from "../phases/clients-plan.js";
import { workersStep } from "../phases/workers.js";
import type { InventoryHost } from "../inventory/types.js";
import { inSequence } from "./graph.js";
import type { Step } from "../engine/step.js";

/** Held by every step that changes etcd's membership: one change at a time, quorum never at risk. */
export const ETCD_MEMBERSHIP = "etcd-membership";

/** The conversion's steps, made by the phases; `conversionGraph` orders them. */
export interface ConversionSteps {
  /** nginx (and keepalived) on the load balancer hosts, in order. */
  entryPoint: Step[];
  peerFix?: Step;
  apiserverCert: Step;
  /** Per new master, in the inventory's order: what its etcd member needs, its other certificates, ... */
  masters: { etcdPki: Step; pki: Step; etcd: Step; controlPlane: Step; controlPlaneHealth: Step }[];
  externalLb?: Step;
  clients: Step[];
  workers?: Step;
}

/**
 * What each step needs, from what it reads that another writes (pure, so the graph is tested alone):
 * - the entry point's steps each after the one before, beside etcd's growth: its new configuration was
 *   tested on a copy before the run's first change (Step.check), so nothing waits for it but what
 *   goes through it: the new control planes (their kubelets register through it), the clients, the workers;
 * - every new master's certificates at once, beside the primary's re-issued apiserver certificate,
 *   in two steps each: what its etcd member needs first, then the rest;
 * - etcd's membership one change at a time (the peer fix, then each join: learner added, started,
 *   promoted, the cluster healthy) under ETCD_MEMBERSHIP, each join after that master's etcd
 *   certificates; the first join goes before the rest of its master's certificates when both could
 *   start (etcd admits the next member only ~5 s after this one started), a later one after them;
 * - a master's control plane after its own etcd member (its apiserver reads it) and its certificates,
 *   so it starts while the next learner catches up; the wait for its controller-manager and scheduler
 *   after it, beside the clients and the workers (which use only the apiservers);
 * - an external LB checked once every apiserver serves; every client moved once all apiservers serve
 *   with the LB's names in their certificates, the client steps all at once;
 * - the workers last: when one cannot be reached, every other step is done and a re-run finishes it.
 * The list is in an order the runner could take (the plan numbers steps in it).
 */
export function conversionGraph(s: ConversionSteps): Step[] {
  const entry = inSequence(s.entryPoint);
  const served = entry.length ? [entry.at(-1)!.id] : [];
  const after = (step: Step, needs: string[], exclusive?: string[]): Step => ({
    ...step,
    needs,
    ...(exclusive && { exclusive }),
  });
  const peerFix = s.peerFix && after(s.peerFix, [], [ETCD_MEMBERSHIP]);
  const etcdPki = s.masters.map((m) => after(m.etcdPki, []));
  const pki = s.masters.map((m, i) => after(m.pki, [etcdPki[i]!.id]));
  const cert = after(s.apiserverCert, []);
  const etcd: Step[] = [];
  s.masters.forEach((m, i) => {
    const previous = i === 0 ? peerFix?.id : etcd[i - 1]!.id;
    etcd.push(after(m.etcd, [etcdPki[i]!.id, ...(previous ? [previous] : [])], [ETCD_MEMBERSHIP]));
  });
  const controlPlanes = s.masters.map((m, i) => after(m.controlPlane, [...served, etcd[i]!.id, pki[i]!.id]));
  const health = s.masters.map((m, i) => after(m.controlPlaneHealth, [controlPlanes[i]!.id]));
  const serving = [...controlPlanes.map((c) => c.id), cert.id];
  const externalLb = s.externalLb && after(s.externalLb, serving);
  const clients = s.clients.map((c) =>
    after(c, externalLb ? [externalLb.id, ...served, ...serving] : [...served, ...serving]),
  );
  const workers =
    s.workers &&
    after(
      s.workers,
      clients.map((c) => c.id),
    );
  // In the order they should start (the runner prefers the earlier of two ready steps on one host,
  // and the keys are made in this order): per master its etcd certificates, then the first master's
  // join before the rest of its certificates (its start starts etcd's clock), every later master's
  // rest before its join (which waits for etcd's clock anyway), and the previous control plane.
  const joined = s.masters.flatMap((_, i) => [
    etcdPki[i]!,
    ...(i === 0 ? [etcd[i]!, pki[i]!] : [pki[i]!, etcd[i]!]),
    ...(i > 0 ? [controlPlanes[i - 1]!] : []),
  ]);
  return [
    ...entry,
    ...(peerFix ? [peerFix] : []),
    ...joined,
    cert,
    ...controlPlanes.slice(-1),
    ...(externalLb ? [externalLb] : []),
    ...clients,
    ...health,
    ...(workers ? [workers] : []),
  ];
}

/**
 * The whole run as a graph. Built from discovery and the inventory, reading the hosts but changing
 * nothing; `plan` prints it, `apply` builds the same steps and carries them out.
 */
export async function buildPlan(ctx: RunContext): Promise<Step[]> {
  const master = async (m: InventoryHost) => ({
    ...(await newMasterPkiSteps(ctx, m).then((p) => ({ etcdPki: p.etcd, pki: p.rest }))),
    etcd: etcdJoinStep(ctx, m),
    controlPlane: await controlPlaneStep(ctx, m),
    controlPlaneHealth: controlPlaneHealthStep(m),
  });
  // Each builder only reads: all at once.
  const [masters, entryPoint, clients, workers] = await Promise.all([
    Promise.all(ctx.inventory.masters.map(master)),
    entryPointSteps(ctx),
    clientSteps(ctx),
    ctx.inventory.workers.length > 0 ? workersStep(ctx) : undefined,
  ]);
  const peerFix = primaryEtcdPeerStep(ctx);
  return conversionGraph({
    entryPoint,
    ...(peerFix && { peerFix }),
    apiserverCert: primaryApiserverCertStep(ctx),
    masters,
    ...(ctx.inventory.loadBalancer.mode === "external" && { externalLb: externalLbStep(ctx) }),
    clients,
    ...(workers && { workers }),
  });
}
