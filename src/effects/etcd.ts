// etcd membership recorded. Tap (apply): each change is carried out and recorded with etcd's answer.
// Dry (plan): nothing is sent; the answers are predicted from the member list as the plan's earlier
// changes left it, by the same rules etcd applies (a new learner has no name until it starts; the
// `--initial-cluster` is every started member plus the new one), so the code after the add runs on
// the answer it would get.
import { initialCluster, memberOf, type EtcdMember } from "../etcd/members.js";
import type { Etcd } from "../etcd/ops.js";
import type { EffectSink, EtcdEffect } from "./types.js";

/** A member ID a plan cannot know: etcd chooses it at the add. */
export const PLANNED_ID = "<id of the new member>";

/** The member list as a plan's recorded changes leave it (shared by every step of one plan). */
export interface EtcdOverlay {
  members?: EtcdMember[];
  /** Names of learners added by the plan, by ID: they take it when they start. */
  names: Map<string, string>;
}

export function recordingEtcd(real: Etcd, sink: EffectSink, overlay: EtcdOverlay): Etcd {
  const names = overlay.names;
  const nameOf = (id: string) => names.get(id) ?? "";
  const current = async (): Promise<EtcdMember[]> => (overlay.members ??= await real.members());
  const record = (e: EtcdEffect) => sink.record(e);
  if (!sink.dry) {
    return {
      health: (endpoints) => real.health(endpoints),
      members: async () => {
        const list = await real.members();
        for (const m of list) if (m.name) names.set(m.id, m.name);
        return list;
      },
      addLearner: async (peerUrl, options) => {
        const r = await real.addLearner(peerUrl, options);
        names.set(r.member.id, options.name);
        if (!r.existed)
          record({
            kind: "etcd",
            op: "add-learner",
            member: options.name,
            id: r.member.id,
            peerUrls: [peerUrl],
          });
        return r;
      },
      promote: async (id, options) => {
        const r = await real.promote(id, options);
        if (r.promotedNow) record({ kind: "etcd", op: "promote", member: nameOf(id), id });
        return r;
      },
      remove: async (id) => {
        record({ kind: "etcd", op: "remove", member: nameOf(id), id });
        return real.remove(id);
      },
      updatePeerUrls: async (id, urls) => {
        const changed = await real.updatePeerUrls(id, urls);
        if (changed) record({ kind: "etcd", op: "update-peer-urls", member: nameOf(id), id, peerUrls: urls });
        return changed;
      },
    };
  }
  const find = async (id: string): Promise<EtcdMember | undefined> =>
    (await current()).find((m) => m.id === id);
  return {
    // Asked only inside a wait, which a plan does not wait for.
    health: (endpoints) => real.health(endpoints),
    members: async () => structuredClone(await current()),
    addLearner: async (peerUrl, options) => {
      const before = await current();
      const same = memberOf(before, { name: options.name, peerUrl });
      if (same) {
        return {
          member: same,
          members: before,
          initialCluster: initialCluster(before, options.name, peerUrl),
          existed: true,
        };
      }
      const id = before.some((m) => m.id === PLANNED_ID) ? `${PLANNED_ID} ${options.name}` : PLANNED_ID;
      const member: EtcdMember = {
        id,
        name: "",
        peerUrls: [peerUrl],
        clientUrls: [],
        isLearner: true,
        started: false,
      };
      const members = [...before, member];
      overlay.members = members;
      names.set(id, options.name);
      record({ kind: "etcd", op: "add-learner", member: options.name, id, peerUrls: [peerUrl] });
      return {
        member,
        members,
        initialCluster: initialCluster(members, options.name, peerUrl),
        existed: false,
      };
    },
    promote: async (id) => {
      const m = await find(id);
      record({ kind: "etcd", op: "promote", member: nameOf(id), id });
      // Predicted: the learner started under its node name and was promoted.
      if (m) Object.assign(m, { isLearner: false, started: true, name: m.name || nameOf(id) });
      const member = m ?? {
        id,
        name: nameOf(id),
        peerUrls: [],
        clientUrls: [],
        isLearner: false,
        started: true,
      };
      return { member, promotedNow: true, attempts: 1, promotedAfterMs: 0, inSyncAfterMs: 0 };
    },
    remove: async (id) => {
      record({ kind: "etcd", op: "remove", member: nameOf(id), id });
      overlay.members = (await current()).filter((m) => m.id !== id);
      return true;
    },
    updatePeerUrls: async (id, urls) => {
      const m = await find(id);
      if (m && [...m.peerUrls].sort().join() === [...urls].sort().join()) return false;
      record({
        kind: "etcd",
        op: "update-peer-urls",
        member: nameOf(id) || (m?.name ?? ""),
        id,
        peerUrls: urls,
      });
      if (m) m.peerUrls = [...urls];
      return true;
    },
  };
}
