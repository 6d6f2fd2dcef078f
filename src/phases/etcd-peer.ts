import { KubehaError } from "../errors.js";
import { memberOf } from "../etcd/members.js";
import { etcdPeerProblems, manifestPath, rewritePrimaryEtcdForPeers } from "../render/control-plane.js";
import { parseManifest } from "../render/manifest.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { MANIFEST_BACKUPS, manifestBackupDir } from "../backup/manifests.js";
import { ETCD_SERVING_CERTS, stalePkiFiles, writePki } from "./pki.js";
import { waitEtcdHealthy } from "./etcd-health.js";

/** The primary's etcd manifest as peers need it: its own, or rewritten off localhost (pure). */
export function primaryEtcdManifest(ctx: StepContext): string {
  const p = ctx.inventory.primary;
  return rewritePrimaryEtcdForPeers(ctx.cluster.manifests.etcd, { name: p.name, address: p.address }).text;
}

function localPeer(urls: string[]): boolean {
  return urls.some((u) => /\/\/(localhost|127\.|\[::1\])/.test(u));
}

/**
 * Older kubeadm clusters advertise etcd's peer URL as https://localhost:2380 and listen on loopback
 * only: no second member could ever reach the first. Before any member is added, the primary's etcd
 * gets certificates with its address, a manifest listening and advertising on it, and its member's
 * peer URL updated. Only in the plan when discovery found that layout.
 */
export function primaryEtcdPeerStep(ctx: StepContext): Step | undefined {
  const p = ctx.inventory.primary;
  const node = { name: p.name, address: p.address };
  const problems = etcdPeerProblems(
    parseManifest(ctx.cluster.manifests.etcd, `${p.name}:${manifestPath("etcd")}`),
    node,
  );
  if (!problems.length && !localPeer(ctx.cluster.etcd.primaryPeerUrls)) return undefined;
  const rewrite = rewritePrimaryEtcdForPeers(ctx.cluster.manifests.etcd, node);
  const backupDir = manifestBackupDir(ctx.started);
  const memberUpdated = async (c: StepContext) => {
    const members = await c.etcdMembers(p.name);
    const self = memberOf(members, { name: p.name, peerUrl: rewrite.peerURL });
    return Boolean(self && self.peerUrls.length === 1 && self.peerUrls[0] === rewrite.peerURL);
  };
  return {
    id: `etcd/${p.name}/peer-urls`,
    phase: "etcd",
    host: p.name,
    title: `make ${p.name}'s etcd reachable by peers (${rewrite.peerURL})`,
    why: `its etcd was set up by an older kubeadm for a single member (${problems.join("; ") || "peer URL on localhost"}): a new member could not reach it`,
    // The certificates, the manifest and the member update are the step's effects, recorded from `run`.
    files: [],
    details: [
      ...rewrite.changes.map((c) => `manifest: ${c}`),
      `the old manifest is kept as ${backupDir}/etcd.yaml, the old certificates and keys beside them as *.kubeha-<time>.bak`,
      `the member's peer URL is updated once etcd serves on ${rewrite.peerURL}, checked before any member is added`,
      "the kubelet restarts etcd when its manifest changes: the apiserver on this node waits a few seconds for it",
    ],
    rollback:
      `on ${p.name}: put back ${manifestPath("etcd")} from the newest ${MANIFEST_BACKUPS}/etcd.yaml (cp -p) ` +
      `and pki/etcd/{server,peer}.* from the .bak files next to them, then etcdctl member update back to the old peer URL`,
    isDone: async (c) =>
      (await stalePkiFiles(c, p, ETCD_SERVING_CERTS, false)).stale.length === 0 &&
      (await c.host(p.name).readFile(manifestPath("etcd")))?.toString("utf8") === rewrite.text &&
      (await memberUpdated(c)),
    run: async (c) => {
      const { stale } = await stalePkiFiles(c, p, ETCD_SERVING_CERTS, false);
      if (stale.length) await writePki(c, p, stale, ETCD_SERVING_CERTS);
      if ((await c.host(p.name).readFile(manifestPath("etcd")))?.toString("utf8") !== rewrite.text) {
        await c.host(p.name).writeFile(manifestPath("etcd"), rewrite.text, {
          mode: 0o600,
          backup: { dir: backupDir },
        });
        c.reporter.step(p.name, `etcd: manifest rewritten, the old one kept as ${backupDir}/etcd.yaml`);
        c.reporter.progress(p.name, "etcd: waiting for the kubelet to restart etcd");
      }
      // etcd comes back on its new URLs; the member's peer URL is then changed to match.
      await waitEtcdHealthy(c, 60_000);
      const self = memberOf(await c.etcd.members(), { name: p.name, peerUrl: rewrite.peerURL });
      if (!self) throw new KubehaError(`${p.name}: no etcd member named ${p.name}`);
      await c.etcd.updatePeerUrls(self.id, [rewrite.peerURL]);
      await waitEtcdHealthy(c, 30_000);
    },
    verify: async (c) => {
      if (!(await memberUpdated(c)))
        throw new KubehaError(`${p.name}: etcd member's peer URL is not ${rewrite.peerURL}`);
    },
  };
}
