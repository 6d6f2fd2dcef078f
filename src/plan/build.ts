import type { RunContext } from "../phases/context.js";
import { newMasterPkiStep, primaryApiserverCertStep } from "../phases/pki.js";
import { etcdJoinStep } from "../phases/etcd.js";
import { primaryEtcdPeerStep } from "../phases/etcd-peer.js";
import { controlPlaneStep } from "../phases/control-plane.js";
import { entryPointSteps } from "../phases/entry-point.js";
import { externalLbStep } from "../phases/external-lb.js";
import { clientSteps } from "../phases/clients-plan.js";
import type { Step } from "./types.js";

/**
 * The whole run, in order. Built from discovery and the inventory, reading the hosts but changing
 * nothing; `plan` prints it, `apply` builds the same list and carries it out.
 */
export async function buildPlan(ctx: RunContext): Promise<Step[]> {
  // The LB first: a broken nginx stops the run before anything on the cluster changed.
  const steps: Step[] = [...(await entryPointSteps(ctx)), await primaryApiserverCertStep(ctx)];
  // An old single-member etcd on localhost is made reachable before any member is added.
  const peerFix = primaryEtcdPeerStep(ctx);
  if (peerFix) steps.push(peerFix);
  // One new member at a time: each joins, is promoted and the cluster is healthy before the next.
  for (const m of ctx.inventory.masters) {
    steps.push(await newMasterPkiStep(ctx, m));
    steps.push(etcdJoinStep(ctx, m));
  }
  for (const m of ctx.inventory.masters) steps.push(await controlPlaneStep(ctx, m));
  // Every client through the LB, once all three apiservers serve (and an external LB reaches them).
  if (ctx.inventory.loadBalancer.mode === "external") steps.push(externalLbStep(ctx));
  steps.push(...(await clientSteps(ctx)));
  return steps;
}
