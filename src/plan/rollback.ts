import { readOriginal } from "../backup/original.js";
import { removalOrder } from "../etcd/quorum.js";
import { configMapSteps, masterKubeconfigsStep } from "../phases/clients.js";
import type { RunContext } from "../engine/context.js";
import { primaryTarget } from "../phases/kubelet.js";
import { memberHost, memberOf } from "../etcd/members.js";
import { etcdRemoveStep, memberStates, nodeDeleteStep, retireHostStep } from "../phases/retire.js";
import {
  kubeadmConfigRestoreStep,
  loadBalancerRemoveStep,
  primaryCertRestoreStep,
} from "../phases/rollback.js";
import { keepalivedRemoveStep } from "../phases/keepalived-remove.js";
import { workersStep } from "../phases/workers.js";
import type { InventoryHost } from "../inventory/types.js";
import { inSequence } from "./graph.js";
import type { Step } from "../engine/step.js";

const ID = "rollback";

/**
 * The new masters in the order their members go: learners, members that never started, unhealthy
 * voters, healthy voters (src/etcd/quorum.ts), the newest first; masters without a member last.
 */
async function retireOrder(ctx: RunContext): Promise<InventoryHost[]> {
  const members = await ctx.etcdMembers();
  const states = await memberStates(ctx, members);
  const withMember = ctx.inventory.masters.flatMap((h) => {
    const m = memberOf(members, memberHost(h));
    const s = m && states.find((x) => x.id === m.id);
    return s ? [{ ...s, host: h }] : [];
  });
  const ordered = removalOrder(withMember).map((x) => x.host);
  return [...ordered, ...ctx.inventory.masters.filter((h) => !ordered.includes(h)).reverse()];
}

/**
 * A converted (or half-converted) cluster back to its primary alone: every client back to the
 * primary's own address first, then one master at a time out of etcd and off its host, then the load
 * balancer's configuration out of nginx, then the primary's original certificate. No etcd snapshot is
 * restored: what was written since the conversion stays.
 */
export async function buildRollbackPlan(ctx: RunContext): Promise<Step[]> {
  const lb = ctx.inventory.loadBalancer;
  const original = await readOriginal(ctx.stateDir, ctx.cluster.certificatesDir);
  const target = primaryTarget(ctx);
  const steps: Step[] = [
    ...(await configMapSteps(ctx, target)),
    await kubeadmConfigRestoreStep(ctx, original),
    await masterKubeconfigsStep(ctx, ctx.inventory.primary, target),
  ];
  if (ctx.inventory.workers.length) steps.push(await workersStep(ctx, target));
  for (const m of await retireOrder(ctx)) {
    steps.push(
      etcdRemoveStep(ctx, m, { idPrefix: ID }),
      retireHostStep(ctx, m, ID),
      nodeDeleteStep(ctx, m, ID),
    );
  }
  // External: nothing of kubeha's on the load balancer.
  // keepalived lets go of the virtual address first: its health check goes through the local nginx.
  if (lb.mode === "keepalived") for (const h of lb.hosts) steps.push(await keepalivedRemoveStep(ctx, h.name));
  for (const h of lb.hosts) steps.push(await loadBalancerRemoveStep(ctx, h.name));
  steps.push(primaryCertRestoreStep(ctx, original));
  // One step at a time: clients back before members go, the learner first, quorum never at risk.
  return inSequence(steps);
}
