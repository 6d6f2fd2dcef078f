/**
 * Pure decisions about shrinking etcd: how many voters quorum needs, whether the cluster keeps it
 * without a member, whether a member may be removed now, and in which order several are removed.
 */
import { plural } from "../ui/plural.js";

/** A member as these decisions see it: etcd's record and whether its own endpoint answers healthily. */
export interface MemberState {
  id: string;
  /** Empty for a member that never started. */
  name: string;
  isLearner: boolean;
  started: boolean;
  /** Its own endpoint answers status as this member, without errors, and knows a leader. */
  healthy: boolean;
}

/** Votes a cluster of `voters` voting members needs to commit anything. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

export function memberLabel(m: Pick<MemberState, "id" | "name">): string {
  return m.name || `member ${m.id} (never started)`;
}

const names = (ms: MemberState[]): string => ms.map(memberLabel).join(", ") || "none";

/**
 * Whether the voters other than `target` (by member id; undefined: not a member) still make quorum
 * today, with the arithmetic: the condition for retiring a master that may be dead.
 */
export function quorumWithout(
  members: MemberState[],
  target: { id?: string; name: string },
): { ok: boolean; message: string } {
  const voters = members.filter((m) => !m.isLearner);
  const need = quorumOf(voters.length);
  const healthy = voters.filter((m) => m.id !== target.id && m.healthy);
  const message =
    `${plural(voters.length, "voting member")} need ${need} for quorum; without ${target.name}, ` +
    `${healthy.length} ${healthy.length === 1 ? "is" : "are"} healthy (${names(healthy)})`;
  return { ok: healthy.length >= need, message };
}

/**
 * Why removing member `id` now is unsafe (undefined: safe, or already gone). The removal must commit:
 * the healthy voters, the target included, make quorum now. Removing a learner, a voter that never
 * started or an unhealthy voter only makes the cluster more tolerant; removing a healthy voter needs
 * every voter that stays to be healthy (with `othersHealthy`, whatever the target is). The last voter
 * is never removed.
 */
export function removalProblem(
  members: MemberState[],
  id: string,
  options: { othersHealthy?: boolean } = {},
): string | undefined {
  const target = members.find((m) => m.id === id);
  if (!target) return undefined;
  const who = `refusing to remove ${memberLabel(target)}`;
  const voters = members.filter((m) => !m.isLearner);
  const left = voters.filter((m) => m.id !== id);
  if (left.length === 0) return `${who}: it is the last voting member`;
  const healthy = voters.filter((m) => m.healthy);
  if (healthy.length < quorumOf(voters.length)) {
    return (
      `${who}: ${plural(voters.length, "voting member")} need ${quorumOf(voters.length)} for quorum and ` +
      `${healthy.length} ${healthy.length === 1 ? "is" : "are"} healthy (${names(healthy)}): the removal could not commit`
    );
  }
  const sick = left.filter((m) => !m.healthy);
  const strict = options.othersHealthy || (!target.isLearner && target.healthy);
  if (strict && sick.length) {
    return (
      `${who}: ${plural(left.length, "voting member")} would remain, needing ${quorumOf(left.length)} ` +
      `for quorum, and ${names(sick)} ${sick.length === 1 ? "is" : "are"} not healthy`
    );
  }
  return undefined;
}

function rank(m: MemberState): number {
  if (m.isLearner) return 0; // does not vote: its removal never touches quorum
  if (!m.started) return 1; // a voter that never started counts against quorum: out first
  if (!m.healthy) return 2;
  return 3;
}

/**
 * The order in which to remove `targets`: learners, voters that never started, unhealthy voters,
 * then healthy voters; within a group the last given first (the newest master first). Removing in
 * this order, each removal leaves only healthy voters whenever that is possible at all.
 */
export function removalOrder<T extends MemberState>(targets: readonly T[]): T[] {
  return targets
    .map((m, i) => ({ m, i }))
    .sort((a, b) => rank(a.m) - rank(b.m) || b.i - a.i)
    .map((x) => x.m);
}
