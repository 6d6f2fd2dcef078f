import { InputError } from "../errors.js";
import { quorumWithout, removalOrder } from "../etcd/quorum.js";
import type { InventoryHost } from "../inventory/types.js";
import { objectPath } from "../kube/client.js";
import type { RunContext } from "../engine/context.js";
import { primaryKube } from "../phases/kubelet.js";
import type { NodeObject } from "../kube/types.js";
import { memberHost, memberOf } from "../etcd/members.js";
import {
  etcdRemoveStep,
  memberStates,
  nodeDeleteStep,
  retireHostStep,
  type Retiree,
} from "../phases/retire.js";
import { parseURL } from "../render/net.js";
import { SshHost } from "../ssh/index.js";
import { buildPlan } from "./build.js";
import { inSequence } from "./graph.js";
import type { Step } from "../engine/step.js";

const ID = "retire";

/** What `remove` and `replace` are asked: masters no longer in the inventory, and the one taking a place. */
export interface RetireRequest {
  names: string[];
  /** replace: the inventory master that takes the place (its SSH settings also reach the old one). */
  replacement?: string;
  /** The old master's address when neither its etcd member nor its Node says it. */
  address?: string;
}

/** Refusals that need only the inventory: exit 2 before anything is read from the cluster. */
export function checkRequest(masters: InventoryHost[], req: RetireRequest): void {
  if (req.names.length === 0) throw new InputError("name the master(s) to retire");
  for (const n of req.names) {
    const i = masters.findIndex((m) => m.name === n);
    if (i === 0) {
      const others = masters.slice(1).map((m) => m.name);
      const choice = others.length > 1 ? `${others.slice(0, -1).join(", ")} or ${others.at(-1)}` : others[0];
      throw new InputError(
        `${n} is the inventory's primary: name ${choice ?? "a remaining master"} as the primary and leave ${n} out of the inventory`,
      );
    }
    if (i > 0)
      throw new InputError(
        `${n} is still in the inventory (masters[${i - 1}]): take it out first${req.replacement ? `, and put ${req.replacement} in its place` : ""}`,
      );
  }
  if (req.replacement !== undefined && !masters.slice(1).some((m) => m.name === req.replacement))
    throw new InputError(
      `--with ${req.replacement}: not one of the inventory's masters; add it under masters`,
    );
  if (req.address !== undefined && req.names.length !== 1)
    throw new InputError("--address goes with exactly one master to retire");
}

type NodeWithAddresses = NodeObject & { status?: { addresses?: { type: string; address: string }[] } };

/**
 * The old master's address: from its etcd member's peer URL, --address, or its Node's InternalIP;
 * undefined when neither its member nor its Node is left and every member is an inventory master's:
 * a run that retired it was stopped after deleting its Node (the last retire step), or it left long ago.
 */
async function resolve(ctx: RunContext, name: string, address?: string): Promise<Retiree | undefined> {
  if (address) return { name, address };
  const members = await ctx.etcdMembers();
  const fromMember = members
    .find((m) => m.name === name)
    ?.peerUrls.map((u) => parseURL(u)?.host)
    .find(Boolean);
  if (fromMember) return { name, address: fromMember };
  const node = await (await primaryKube(ctx)).getOptional<NodeWithAddresses>(objectPath("nodes", name));
  const ip = node?.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
  if (ip) return { name, address: ip };
  const outside = members.filter((m) => !ctx.masters.some((h) => memberOf([m], memberHost(h))));
  if (outside.length === 0) {
    ctx.reporter.info(`${name}: no etcd member and no Node any more: already out of the control plane`);
    return undefined;
  }
  const names = outside.map((m) => m.name || `a member that never started (${m.peerUrls.join(", ")})`);
  throw new InputError(
    `${name}: no etcd member and no Node has this name, and etcd still has ${names.join(", ")} outside the inventory (an etcd member that never started has no name: give its --address)`,
  );
}

/** Opens a connection to the old master if it answers; undefined (with the reason said) when it does not. */
async function reach(ctx: RunContext, r: Retiree, like: InventoryHost): Promise<boolean> {
  try {
    const host = await SshHost.connect({ name: r.name, address: r.address, role: "master", ssh: like.ssh });
    ctx.hosts.set(r.name, host);
    ctx.onClose(() => host.close());
    return true;
  } catch (err) {
    ctx.reporter.warn(
      `${r.name} (${r.address}) cannot be reached (${(err as Error).message}): its etcd member and Node are removed; ` +
        `before it ever comes back, move /etc/kubernetes/manifests/* and /etc/kubernetes/kubelet.conf out of the way on it`,
    );
    return false;
  }
}

/**
 * Masters out of the control plane, then the conversion's own steps for the inventory as it is now
 * (which, for `replace`, joins the new master). The load balancer's step stays first: its upstreams
 * lose the old masters before their members go. Each old master must be dispensable: the voters
 * other than it make quorum today (refused otherwise, with the arithmetic, before any change).
 */
export async function buildRetirePlan(ctx: RunContext, req: RetireRequest): Promise<Step[]> {
  checkRequest(ctx.masters, req);
  const retirees = (await Promise.all(req.names.map((n) => resolve(ctx, n, req.address)))).filter(
    (r): r is Retiree => r !== undefined,
  );
  // Connected first: a retired master that answers has its member's health asked too.
  const like = ctx.masters.find((m) => m.name === req.replacement) ?? ctx.masters[1] ?? ctx.masters[0]!;
  const reachable = new Set<string>();
  for (const r of retirees) if (await reach(ctx, r, like)) reachable.add(r.name);
  const members = await ctx.etcdMembers();
  const states = await memberStates(ctx, members);
  for (const r of retirees) {
    const q = quorumWithout(states, { id: memberOf(members, memberHost(r))?.id, name: r.name });
    if (!q.ok) throw new InputError(`refusing to retire ${r.name}: ${q.message}; nothing was changed`);
  }
  const ranked = removalOrder(
    retirees.map((r, i) => {
      const s = states.find((x) => x.id === memberOf(members, memberHost(r))?.id);
      return {
        ...(s ?? { id: `none-${i}`, name: r.name, isLearner: true, started: false, healthy: false }),
        r,
      };
    }),
  ).map((x) => x.r);
  const retireSteps: Step[] = [];
  for (const r of ranked) {
    retireSteps.push(etcdRemoveStep(ctx, r, { idPrefix: ID, othersHealthy: true }));
    if (reachable.has(r.name)) retireSteps.push(retireHostStep(ctx, r, ID));
    retireSteps.push(nodeDeleteStep(ctx, r, ID));
  }
  const [lb, ...rest] = await buildPlan(ctx);
  // One step at a time, in this order: the old members out before any new one joins.
  return inSequence([lb!, ...retireSteps, ...rest]);
}
