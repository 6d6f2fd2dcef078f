/**
 * Taking a master out of the control plane: its etcd member removed through the primary (never
 * risking quorum: src/etcd/quorum.ts decides), its static pods stopped by moving their manifests out
 * of the kubelet's directory, its kubelet left without credentials, its Node object deleted. Used by
 * `rollback` (every new master) and by `remove`/`replace` (the retired one).
 */
import { KubehaError } from "../errors.js";
import { memberHost, memberOf, type EtcdMember } from "../etcd/members.js";
import { removalProblem, type MemberState } from "../etcd/quorum.js";
import { objectPath } from "../kube/client.js";
import { etcdPeerURL } from "../render/control-plane.js";
import { shellQuote } from "../ssh/shell-quote.js";
import { portsListening } from "../ssh/ports.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { waitEtcdHealthy } from "./etcd-health.js";
import { KUBELET_CONF, primaryKube } from "./kubelet.js";
import { manifestBackupDir } from "../backup/manifests.js";

/** A master being retired: its node name and address (its etcd peer URL is derived from it). */
export interface Retiree {
  name: string;
  address: string;
}

const MANIFESTS_DIR = "/etc/kubernetes/manifests";
/** etcd (client, peer), apiserver, controller-manager, scheduler: free once the static pods stopped. */
const CONTROL_PLANE_PORTS = [2379, 2380, 6443, 10257, 10259];

/**
 * Every member with its health, asked through the tunnel of the master it runs on; a member on a host
 * kubeha has no connection to (a dead master) counts as unhealthy.
 */
export async function memberStates(ctx: StepContext, members: EtcdMember[]): Promise<MemberState[]> {
  return Promise.all(
    members.map(async (m) => {
      // An inventory master, or a retired one kubeha is connected to.
      const host =
        ctx.masters.find((h) => memberOf([m], memberHost(h)) !== undefined)?.name ??
        (ctx.connectedHosts.includes(m.name) ? m.name : undefined);
      const healthy =
        m.started &&
        host !== undefined &&
        ctx.connectedHosts.includes(host) &&
        (await ctx
          .etcdStatus(host, 3000)
          .then((st) => st.ok && st.memberId === m.id && st.leader !== undefined && st.leader !== "0")
          .catch(() => false));
      return { id: m.id, name: m.name, isLearner: m.isLearner, started: m.started, healthy };
    }),
  );
}

/**
 * Remove `node`'s etcd member (voter or learner, started or not) through the primary's member, once
 * src/etcd/quorum.ts says the removal is safe; then wait for the smaller cluster to be healthy.
 */
export function etcdRemoveStep(
  ctx: StepContext,
  node: Retiree,
  options: { idPrefix: string; othersHealthy?: boolean },
): Step {
  const primary = ctx.inventory.primary.name;
  return {
    id: `${options.idPrefix}/etcd/${node.name}`,
    phase: "etcd",
    host: node.name,
    title: `remove ${node.name}'s etcd member (through ${primary})`,
    why: "one member at a time, and only while the voters that stay make quorum, so etcd never stops accepting writes; the data stays on the other members",
    files: [],
    details: [
      `etcd: member remove <${node.name}'s member: peer ${etcdPeerURL(node.address)}> (through ${primary})`,
      options.othersHealthy
        ? "refused unless every voter that stays answers healthily"
        : "refused unless the removal can commit and, for a healthy voter, every voter that stays is healthy",
      "then: every remaining member answers, one leader, no alarms",
    ],
    rollback: `etcd members are not added back by hand: run \`kubeha apply\` with ${node.name} in the inventory to join it again as a learner`,
    isDone: async (c) => memberOf(await c.etcdMembers(), memberHost(node)) === undefined,
    run: async (c) => {
      // Through c.etcd: a plan records the removal, and the steps after it see the smaller cluster.
      const members = await c.etcd.members();
      const target = memberOf(members, memberHost(node));
      if (!target) return;
      const problem = removalProblem(await memberStates(c, members), target.id, options);
      if (problem) throw new KubehaError(`etcd: ${problem}; nothing was removed`);
      const removed = await c.etcd.remove(target.id);
      c.reporter.step(
        node.name,
        `etcd: member ${target.id} (${target.name || "never started"}${target.isLearner ? ", learner" : ""}) ${removed ? "removed" : "was already gone"}`,
      );
      await waitEtcdHealthy(c);
    },
    verify: async (c) => {
      const left = memberOf(await c.etcdMembers(), memberHost(node));
      if (left) throw new KubehaError(`${node.name}: etcd member ${left.id} is still listed`);
    },
  };
}

async function leftovers(ctx: StepContext, node: Retiree): Promise<string[]> {
  const host = ctx.host(node.name);
  const out: string[] = [];
  const ls = await host.exec(shellQuote(["ls", "-A", MANIFESTS_DIR]));
  const files = ls.code === 0 ? ls.stdout.split("\n").filter((f) => f && !f.startsWith(".")) : [];
  if (files.length) out.push(`${MANIFESTS_DIR} holds ${files.join(", ")}`);
  if (await host.readFile(KUBELET_CONF)) out.push(`${KUBELET_CONF} is there`);
  const listening = await portsListening(host);
  const busy = CONTROL_PLANE_PORTS.filter((p) => listening.has(p));
  if (busy.length) out.push(`ports ${busy.join(", ")} still listened on`);
  return out;
}

/**
 * Stop `node`'s static pods and keep it from coming back with stale state: every file of its
 * manifests directory and its kubelet.conf moved to /etc/kubernetes/tmp/kubeha-<time>/ (never left in
 * the manifests directory, where the kubelet runs every file), the pods waited out, the kubelet
 * restarted without credentials (it registers no Node until it is joined again).
 */
export function retireHostStep(ctx: StepContext, node: Retiree, idPrefix: string): Step {
  const dir = manifestBackupDir(ctx.started);
  return {
    id: `${idPrefix}/host/${node.name}`,
    phase: "control-plane",
    host: node.name,
    title: `stop ${node.name}'s static pods and move its manifests and kubelet.conf to ${dir}/`,
    why: "the kubelet runs every file in the manifests directory: moved out of it, the pods stop and cannot come back with a stale etcd member or apiserver",
    files: [],
    details: [
      `on ${node.name}: mv ${MANIFESTS_DIR}/* ${KUBELET_CONF} ${dir}/`,
      `wait until nothing listens on ports ${CONTROL_PLANE_PORTS.join(", ")}, then systemctl restart kubelet (no kubelet.conf: it registers no Node)`,
    ],
    rollback: `on ${node.name}: the files are in ${dir}/; moving them back brings the old member's pods back, which etcd refuses once the member is removed`,
    isDone: async (c) => (await leftovers(c, node)).length === 0,
    run: async (c) => {
      const host = c.host(node.name);
      const script =
        'set -eu; umask 077; mkdir -p "$1"; cd "$2"; ' +
        'for f in *; do [ -e "$f" ] && mv -f -- "$f" "$1/"; done; ' +
        '[ ! -e "$3" ] || mv -f -- "$3" "$1/"';
      await host.run(shellQuote(["sh", "-c", script, "sh", dir, MANIFESTS_DIR, KUBELET_CONF]), {
        changes: true,
      });
      c.reporter.step(node.name, `manifests and kubelet.conf moved to ${dir}/; waiting for the pods to stop`);
      let last: string[] = [];
      await c.until(
        async () => (last = (await leftovers(c, node)).filter((l) => l.startsWith("ports"))).length === 0,
        {
          timeoutMs: 60_000,
          what: `the static pods on ${node.name} to stop`,
          lastError: () => last.join("; "),
        },
      );
      await host.run("systemctl restart kubelet", { changes: true });
    },
    verify: async (c) => {
      const left = await leftovers(c, node);
      if (left.length) throw new KubehaError(`${node.name}: ${left.join("; ")}`);
    },
  };
}

/** Delete `node`'s Node object (after its kubelet lost its credentials: it cannot register it again). */
export function nodeDeleteStep(ctx: StepContext, node: Retiree, idPrefix: string): Step {
  const path = objectPath("nodes", node.name);
  return {
    id: `${idPrefix}/node/${node.name}`,
    phase: "clients",
    host: node.name,
    title: `delete Node ${node.name}`,
    why: "a control-plane Node without a control plane is NotReady for ever, and tools that find masters by label would still count it",
    files: [],
    details: [`kubectl delete node ${node.name} (through ${ctx.inventory.primary.name}'s apiserver)`],
    rollback: `the kubelet registers the Node again once ${node.name} is joined again`,
    isDone: async (c) => (await (await primaryKube(c)).getOptional(path)) === undefined,
    run: async (c) => {
      const gone = !(await (await primaryKube(c)).delete(path));
      c.reporter.step(node.name, `Node ${node.name} ${gone ? "was already gone" : "deleted"}`);
    },
    verify: async (c) => {
      if (await (await primaryKube(c)).getOptional(path))
        throw new KubehaError(`Node ${node.name} is still registered`);
    },
  };
}
