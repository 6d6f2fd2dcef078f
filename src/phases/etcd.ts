import type { InventoryHost } from "../inventory/types.js";
import { KubehaError } from "../errors.js";
import { memberOf } from "../etcd/members.js";
import {
  etcdPeerURL,
  manifestPath,
  parseInitialCluster,
  renderEtcdForNode,
} from "../render/control-plane.js";
import { shellQuote } from "../ssh/shell-quote.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { primaryEtcdManifest } from "./etcd-peer.js";
import { waitEtcdHealthy } from "./etcd-health.js";
import { etcdUndoAdvice } from "./etcd-undo.js";
import { CLOSE_POLL } from "../poll.js";

const ETCD_DATA_DIR = "/var/lib/etcd";

function peerUrlOf(node: InventoryHost): string {
  return etcdPeerURL(node.address);
}

/** The last lines the etcd container logged on `node`, for an error message. */
async function etcdLogs(ctx: StepContext, node: InventoryHost): Promise<string> {
  const res = await ctx
    .host(node.name)
    .exec(
      'id=$(crictl ps -a --name etcd -q 2>/dev/null | head -1); [ -n "$id" ] && crictl logs --tail 15 "$id" 2>&1',
    );
  return res.stdout.trim() || "(no etcd container log found)";
}

/**
 * Grow etcd by one member without ever risking quorum: add `node` as a learner (it does not count
 * towards quorum), start it from its static pod manifest, promote it once in sync, check health.
 * A learner that does not come up is removed again, with its manifest.
 */
export function etcdJoinStep(ctx: StepContext, node: InventoryHost): Step {
  const peerUrl = peerUrlOf(node);
  const primary = ctx.inventory.primary;
  const render = (initialCluster: string) =>
    renderEtcdForNode(primaryEtcdManifest(ctx), {
      primary: { name: primary.name, address: primary.address },
      node: { name: node.name, address: node.address },
      initialCluster: parseInitialCluster(initialCluster),
    });
  return {
    id: `etcd/${node.name}`,
    phase: "etcd",
    host: node.name,
    title: `add ${node.name} to etcd as a learner, start it, promote it when in sync`,
    why: "a learner does not count towards quorum, so the cluster keeps working whatever happens to the new member; it becomes a voter only once it holds the data",
    // The manifest and the membership changes are the step's effects: recorded from `run` itself.
    files: [],
    details: [
      `through ${primary.name}'s member; the manifest's --initial-cluster is the one the member add returns`,
      `the learner must start and catch up within ${ctx.inventory.options.etcdLearnerTimeoutSeconds}s; on failure the learner and its manifest are removed`,
      "etcd: check every member answers, one leader, raft indexes close, no alarms",
      `the primary's etcd manifest stays as it is: --initial-cluster only matters at a member's first start`,
    ],
    rollback: `if ${node.name}'s member is a learner or has not started: etcdctl member remove <its id>; never remove it once it is a started, healthy voter; then move ${manifestPath("etcd")} away on ${node.name} and clear ${ETCD_DATA_DIR}`,
    undo: async (c) => {
      const members = await c.etcdMembers().catch(() => undefined);
      const m = members && memberOf(members, { name: node.name, peerUrl });
      const healthy =
        m?.started === true &&
        (await c
          .etcdStatus(node.name, 3000)
          .then((st) => st.ok && st.leader !== undefined && st.leader !== "0")
          .catch(() => false));
      return etcdUndoAdvice(
        node.name,
        members ? m && { ...m, healthy } : "unknown",
        manifestPath("etcd"),
        ETCD_DATA_DIR,
      );
    },
    isDone: async (c) => {
      const members = await c.etcdMembers();
      const m = memberOf(members, { name: node.name, peerUrl });
      return Boolean(m && !m.isLearner && m.started);
    },
    run: async (c) => {
      const r = c.reporter;
      // Voters are checked through their own tunnels: the operator's machine may not reach port 2379.
      const others = c.masters.filter((m) => m.name !== node.name);
      const tunnels = new Map(
        await Promise.all(others.map(async (m) => [m.name, await c.etcdEndpoint(m.name)] as const)),
      );
      // The new member's own tunnel (the promotion asks it) opens while it is added and started.
      const ownTunnel = c.etcdEndpoint(node.name);
      ownTunnel.catch(() => undefined);
      const added = await c.etcd.addLearner(peerUrl, {
        name: node.name,
        voterEndpoint: (m) => tunnels.get(m.name),
      });
      r.step(
        node.name,
        `etcd: ${added.existed ? "learner already present" : "learner added"} (member ${added.member.id})`,
      );
      if (!added.member.started) {
        // A member that never started may find a stale data directory from an earlier attempt; it is
        // gone before the manifest that starts the member is written.
        const manifest = render(added.initialCluster);
        const [, current] = await Promise.all([
          c.host(node.name).run(shellQuote(["rm", "-rf", `${ETCD_DATA_DIR}/member`]), { changes: true }),
          c
            .host(node.name)
            .readFile(manifest.path)
            .then((b) => b?.toString("utf8")),
        ]);
        if (current !== manifest.text) {
          await c.host(node.name).writeFile(manifest.path, manifest.text, { mode: 0o600 });
          r.step(node.name, `etcd: wrote ${manifest.path}`);
        }
      }
      const memberEndpoint = await ownTunnel;
      try {
        const result = await c.etcd.promote(added.member.id, {
          timeoutMs: c.inventory.options.etcdLearnerTimeoutSeconds * 1000,
          // The next member's add waits for this one.
          ...CLOSE_POLL,
          memberEndpoint,
          onProgress: (p) => {
            if (p.phase === "waiting-start") r.progress(node.name, "etcd: waiting for the learner to start");
            else if (p.phase === "not-in-sync")
              r.progress(
                node.name,
                `etcd: learner catching up (applied ${p.learnerApplied ?? "?"} of ${p.leaderCommitted ?? "?"})`,
              );
            else if (p.phase === "catching-up")
              r.progress(node.name, `etcd: voter applying ${p.applied} of ${p.target}`);
            else if (p.phase === "retrying")
              r.progress(node.name, `etcd: promote retry ${p.attempt}: ${p.error}`);
          },
        });
        r.step(
          node.name,
          `etcd: promoted to voter after ${(result.promotedAfterMs / 1000).toFixed(1)}s, in sync after ${(result.inSyncAfterMs / 1000).toFixed(1)}s`,
        );
      } catch (err) {
        const logs = await etcdLogs(c, node).catch(() => "(could not read the etcd log)");
        const members = await c.etcd.members();
        const still = members.find((m) => m.id === added.member.id);
        if (still?.isLearner) {
          await c.etcd.remove(added.member.id);
          await c
            .host(node.name)
            .exec(shellQuote(["mv", "-f", manifestPath("etcd"), `/etc/kubernetes/etcd.yaml.kubeha-failed`]), {
              changes: true,
            });
          throw new KubehaError(
            `${node.name}: etcd learner did not start or catch up (${(err as Error).message}); ` +
              `the learner was removed and its manifest moved to /etc/kubernetes/etcd.yaml.kubeha-failed; ` +
              `the cluster keeps its quorum and data. etcd log on ${node.name}:\n${logs}`,
          );
        }
        throw err;
      }
      await waitEtcdHealthy(c);
    },
    verify: async (c) => {
      const members = await c.etcdMembers();
      const m = memberOf(members, { name: node.name, peerUrl });
      if (!m || m.isLearner || !m.started) {
        throw new KubehaError(`${node.name}: etcd member is not a started voter`);
      }
      if (!(await c.host(node.name).readFile(manifestPath("etcd"))))
        throw new KubehaError(`${node.name}: ${manifestPath("etcd")} is missing`);
      await waitEtcdHealthy(c);
      return `member ${m.id} a started voter; etcd healthy`;
    },
  };
}
