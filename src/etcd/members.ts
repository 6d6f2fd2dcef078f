/**
 * etcd membership: list, add a learner, promote it once in sync, remove, update peer URLs.
 * Every call goes to the one member the client is bound to (see client.ts).
 */
import type { IMember, IStatusResponse } from "etcd3";
import { KubehaError } from "../errors.js";
import { type EtcdEndpointClient, errorMessage, etcdError } from "./client.js";
import { attemptWithBackoff, CLOSE_POLL, pollUntil, retry } from "../poll.js";
import { parseURL, sameHost } from "../render/net.js";
import { etcdPeerURL } from "../render/control-plane.js";
import { plural } from "../ui/plural.js";

/** One etcd member as `etcdctl member list` shows it; `id` is hex like etcdctl prints. */
export interface EtcdMember {
  id: string;
  name: string;
  peerUrls: string[];
  clientUrls: string[];
  isLearner: boolean;
  /** The member has started at least once (etcd sets its name when it first publishes itself). */
  started: boolean;
}

/** etcd3's decimal member ID → etcdctl's hex form. */
export function memberIdToHex(decimal: string): string {
  return BigInt(decimal).toString(16);
}

/** etcdctl's hex member ID → the decimal string etcd3 expects in requests. */
export function memberIdToDecimal(hex: string): string {
  return BigInt(`0x${hex.replace(/^0x/i, "")}`).toString(10);
}

/** Convert etcd3's member record. */
export function toMember(m: IMember): EtcdMember {
  return {
    id: memberIdToHex(m.ID),
    name: m.name,
    peerUrls: [...m.peerURLs],
    clientUrls: [...m.clientURLs],
    isLearner: m.isLearner,
    started: m.name !== "",
  };
}

/** A host as etcd membership sees it: its node name (the member's name once started) and its peer URL. */
export interface MemberHost {
  name: string;
  peerUrl: string;
}

/** An inventory host's member identity: its name, and the peer URL kubeha gives its etcd. */
export function memberHost(h: { name: string; address: string }): MemberHost {
  return { name: h.name, peerUrl: etcdPeerURL(h.address) };
}

/** The same peer endpoint: hosts compared as addresses (10.0.0.1 is not 10.0.0.11), and ports. */
export function samePeerUrl(a: string, b: string): boolean {
  const x = parseURL(a);
  const y = parseURL(b);
  return x !== undefined && y !== undefined && sameHost(x.host, y.host) && x.port === y.port;
}

/** The member that advertises `peerUrl` (see samePeerUrl). */
export function memberAt<M extends Pick<EtcdMember, "peerUrls">>(
  members: readonly M[],
  peerUrl: string,
): M | undefined {
  return members.find((m) => m.peerUrls.some((u) => samePeerUrl(u, peerUrl)));
}

/**
 * The one rule for "this is that host's member": its peer URL (a learner that never started has no
 * name yet), else the member named like the node (an older kubeadm's single member advertises its
 * peer URL on localhost).
 */
export function memberOf<M extends Pick<EtcdMember, "peerUrls" | "name">>(
  members: readonly M[],
  host: MemberHost,
): M | undefined {
  return memberAt(members, host.peerUrl) ?? members.find((m) => m.name !== "" && m.name === host.name);
}

function describe(m: EtcdMember): string {
  return `member ${m.id}${m.name ? ` (${m.name})` : ""}${m.isLearner ? " [learner]" : ""}`;
}

/** The member list, linearizable (goes through the leader; fails without quorum). */
export async function listMembers(client: EtcdEndpointClient): Promise<EtcdMember[]> {
  try {
    const res = await client.cluster.memberList({ linearizable: true });
    return res.members.map(toMember);
  } catch (err) {
    throw etcdError(client.endpoint, "list members", err);
  }
}

/**
 * The value of `--initial-cluster` for a new member: every existing member's `name=peerUrl` plus
 * `newName=newPeerUrl`. `members` may or may not already contain the new member (see memberOf).
 * Throws if another member has never started (it has no name yet, so it cannot be listed).
 */
export function initialCluster(members: readonly EtcdMember[], newName: string, newPeerUrl: string): string {
  const parts: string[] = [];
  const self = memberOf(members, { name: newName, peerUrl: newPeerUrl });
  // By name: etcd lists members in the order of the IDs it chose at random, and a manifest (and a
  // plan, which cannot know those IDs) should not depend on them.
  for (const m of [...members].sort((a, b) => a.name.localeCompare(b.name))) {
    if (m === self) continue;
    if (!m.started) {
      throw new KubehaError(
        `etcd ${describe(m)} (peer ${m.peerUrls.join(",")}) has never started: cannot build --initial-cluster for ${newName}`,
      );
    }
    for (const u of m.peerUrls) parts.push(`${m.name}=${u}`);
  }
  parts.push(`${newName}=${newPeerUrl}`);
  return parts.join(",");
}

export interface AddLearnerOptions {
  /** The new member's name (its node name); used for `initialCluster`. */
  name: string;
  /**
   * The endpoint at which a voter can be reached for its health check (e.g. a tunnel), or undefined
   * to use its first advertised client URL.
   */
  voterEndpoint?: (m: EtcdMember) => string | undefined;
  /**
   * How long to keep retrying etcd's own refusal "unhealthy cluster" (default 15000 ms). With its
   * strict reconfiguration check (on by default) etcd refuses any add until every voter has been
   * connected for 5 s, so an add right after a promotion or a restart is refused for a few seconds.
   */
  unhealthyRetryMs?: number;
}

/** How long etcd's transient "unhealthy cluster" refusal of a membership change is asked again. */
const UNHEALTHY_RETRY_MS = 15_000;

export interface AddLearnerResult {
  member: EtcdMember;
  /** The member list after the add, including the new learner. */
  members: EtcdMember[];
  /** `--initial-cluster` for the new member's manifest. */
  initialCluster: string;
  /** true when a learner with this peer URL already existed (a resumed run) and nothing was added. */
  existed: boolean;
}

/**
 * Add `peerUrl` as a learner. Refuses when another learner exists, when the peer URL belongs to a
 * voter, or when any voter does not answer status. Returns the existing learner if one with this peer
 * URL is already there (resume).
 */
export async function addLearner(
  client: EtcdEndpointClient,
  peerUrl: string,
  options: AddLearnerOptions,
): Promise<AddLearnerResult> {
  const node = { name: options.name, peerUrl };
  const before = await listMembers(client);
  const same = memberOf(before, node);
  if (same) {
    if (!same.isLearner) {
      throw new KubehaError(
        `etcd ${client.endpoint}: cannot add ${peerUrl} as a learner: it is already voting ${describe(same)}`,
      );
    }
    return {
      member: same,
      members: before,
      initialCluster: initialCluster(before, options.name, peerUrl),
      existed: true,
    };
  }
  const learner = before.find((m) => m.isLearner);
  if (learner) {
    throw new KubehaError(
      `etcd ${client.endpoint}: refusing to add ${peerUrl}: learner ${describe(learner)} (peer ${learner.peerUrls.join(",")}) already exists; promote or remove it first`,
    );
  }
  const problems = await unhealthyVoters(client, before, options.voterEndpoint);
  if (problems.length > 0) {
    throw new KubehaError(`etcd ${client.endpoint}: refusing to add ${peerUrl}: ${problems.join("; ")}`);
  }
  let added: EtcdMember;
  let members: EtcdMember[];
  try {
    const res = await retry(() => client.cluster.memberAdd({ peerURLs: [peerUrl], isLearner: true }), {
      retryIf: (err) => /unhealthy cluster/i.test(errorMessage(err)),
      timeoutMs: options.unhealthyRetryMs ?? UNHEALTHY_RETRY_MS,
      // etcd's refusal is a local check on the member asked that lifts ~5 s after the last member
      // connected (a 1 s back-off added up to 0.8 s to every join after the first).
      ...CLOSE_POLL,
    });
    added = toMember(res.member);
    members = res.members.map(toMember);
  } catch (err) {
    // The add may have been applied even though the answer was lost (deadline): look again.
    const after = await listMembers(client).catch(() => undefined);
    const found = after && memberOf(after, node);
    if (!after || !found) throw etcdError(client.endpoint, `add learner ${peerUrl}`, err);
    added = found;
    members = after;
  }
  return {
    member: added,
    members,
    initialCluster: initialCluster(members, options.name, peerUrl),
    existed: false,
  };
}

async function unhealthyVoters(
  client: EtcdEndpointClient,
  members: EtcdMember[],
  voterEndpoint?: (m: EtcdMember) => string | undefined,
): Promise<string[]> {
  const voters = members.filter((m) => !m.isLearner);
  const results = await Promise.all(
    voters.map(async (m) => {
      if (!m.started) return `voter ${describe(m)} has never started`;
      const endpoint = voterEndpoint?.(m) ?? m.clientUrls[0];
      if (!endpoint) return `voter ${describe(m)} has no client URL`;
      const c = endpoint === client.endpoint ? client : client.sibling(endpoint);
      try {
        const st = await c.maintenance.status();
        if (memberIdToHex(st.header.member_id) !== m.id) {
          return `voter ${describe(m)}: ${endpoint} answers as member ${memberIdToHex(st.header.member_id)}`;
        }
        if (st.errors.length > 0)
          return `voter ${describe(m)} at ${endpoint} reports: ${st.errors.join(", ")}`;
        if (st.leader === "0") return `voter ${describe(m)} at ${endpoint} has no leader`;
        return undefined;
      } catch (err) {
        return `voter ${describe(m)} at ${endpoint} does not answer status: ${errorMessage(err)}`;
      } finally {
        if (c !== client) c.close();
      }
    }),
  );
  return results.filter((r): r is string => r !== undefined);
}

export type PromoteProgress =
  | { phase: "waiting-start"; memberId: string; elapsedMs: number }
  | {
      phase: "not-in-sync";
      memberId: string;
      elapsedMs: number;
      attempt: number;
      learnerApplied?: string;
      leaderCommitted?: string;
    }
  | { phase: "retrying"; memberId: string; elapsedMs: number; attempt: number; error: string }
  | { phase: "promoted"; memberId: string; elapsedMs: number }
  | { phase: "catching-up"; memberId: string; elapsedMs: number; applied: string; target: string }
  | { phase: "in-sync"; memberId: string; elapsedMs: number };

export interface PromoteOptions {
  /** Give up after this long (promotion and catching up together). */
  timeoutMs: number;
  onProgress?: (p: PromoteProgress) => void;
  /** Endpoint where the new member answers status (default: its first advertised client URL). */
  memberEndpoint?: string;
  /** First and largest delay between attempts (default 100 ms and 2000 ms). */
  minDelayMs?: number;
  maxDelayMs?: number;
}

export interface PromoteResult {
  member: EtcdMember;
  /** false when the member was already a voter (a resumed run). */
  promotedNow: boolean;
  attempts: number;
  /** Time until the promotion succeeded, then until the member had applied the leader's committed index. */
  promotedAfterMs: number;
  inSyncAfterMs: number;
}

const notInSync = /can only promote a learner member which is in sync with leader/i;
const notLearner = /can only promote a learner member\b(?! which)/i;

/**
 * Promote learner `id` (hex) as soon as etcd accepts it, then wait until its applied index reaches
 * the committed index the client's member reported at promotion. Waits for the learner to start
 * first; retries "not in sync" with backoff; after an unclear failure, re-reads the member list (the
 * promotion may have succeeded). Throws on timeout, naming the member and the last reason.
 */
export async function promoteWhenInSync(
  client: EtcdEndpointClient,
  id: string,
  options: PromoteOptions,
): Promise<PromoteResult> {
  const start = Date.now();
  const deadline = start + options.timeoutMs;
  const minDelay = options.minDelayMs ?? 100;
  const maxDelay = options.maxDelayMs ?? 2000;
  const elapsed = () => Date.now() - start;
  let attempts = 0;
  let lastReason = "not tried yet";
  let member: EtcdMember | undefined;
  let promotedNow = false;
  let statusClient: EtcdEndpointClient | undefined;
  const progress = (p: PromoteProgress) => options.onProgress?.(p);

  const statusOf = async (m: EtcdMember): Promise<IStatusResponse | undefined> => {
    const endpoint = options.memberEndpoint ?? m.clientUrls[0];
    if (!endpoint) return undefined;
    statusClient ??= client.sibling(endpoint);
    // A short deadline: a frozen or unreachable member must not stall the loop for a full call timeout.
    return statusClient.maintenance
      .status(statusClient.deadline(Math.min(1000, statusClient.timeoutMs)))
      .catch(() => undefined);
  };

  /** One look at the member list and, for a started learner, one promotion: true once it is a voter. */
  const promoteOnce = async (): Promise<boolean> => {
    let members: EtcdMember[];
    try {
      members = await listMembers(client);
    } catch (err) {
      lastReason = errorMessage(err);
      return false;
    }
    member = members.find((m) => m.id === id);
    if (!member) {
      throw new KubehaError(`etcd ${client.endpoint}: member ${id} is not in the member list (removed?)`);
    }
    if (!member.isLearner) return true;
    if (!member.started) {
      lastReason = `learner ${id} has not started (no name in the member list yet)`;
      progress({ phase: "waiting-start", memberId: id, elapsedMs: elapsed() });
      return false;
    }
    attempts++;
    try {
      await client.cluster.memberPromote({ ID: memberIdToDecimal(id) });
      promotedNow = true;
      member = { ...member, isLearner: false };
      return true;
    } catch (err) {
      const msg = errorMessage(err);
      lastReason = msg;
      if (notLearner.test(msg)) {
        // Already a voter: an earlier promotion's answer was lost.
        member = { ...member, isLearner: false };
        return true;
      }
      if (notInSync.test(msg)) {
        const [st, own] = await Promise.all([
          statusOf(member),
          client.maintenance.status().catch(() => undefined),
        ]);
        progress({
          phase: "not-in-sync",
          memberId: id,
          elapsedMs: elapsed(),
          attempt: attempts,
          learnerApplied: st?.raftAppliedIndex,
          leaderCommitted: own?.raftIndex,
        });
      } else {
        progress({ phase: "retrying", memberId: id, elapsedMs: elapsed(), attempt: attempts, error: msg });
      }
      return false;
    }
  };

  try {
    const promoted = await attemptWithBackoff(promoteOnce, {
      minDelayMs: minDelay,
      maxDelayMs: maxDelay,
      deadline,
    });
    if (!promoted) {
      // Last look: a promotion whose answer was lost shows up here.
      const last = (await listMembers(client).catch(() => undefined))?.find((x) => x.id === id);
      if (!last || last.isLearner) {
        throw new KubehaError(
          `etcd ${client.endpoint}: learner ${id}${member?.name ? ` (${member.name})` : ""} not promoted within ${Math.round(options.timeoutMs / 1000)}s after ${plural(attempts, "attempt")}: ${lastReason}`,
        );
      }
      member = last;
    }
    const voter = member;
    if (!voter) throw new Error(`internal: member ${id} a voter but never read`);
    const promotedAfterMs = elapsed();
    progress({ phase: "promoted", memberId: id, elapsedMs: promotedAfterMs });

    // Wait until the new voter has applied everything committed when it was promoted.
    const ref = await client.maintenance.status().catch((err: unknown) => {
      throw etcdError(client.endpoint, "status after promotion", err);
    });
    const target = BigInt(ref.raftIndex);
    await pollUntil(
      async () => {
        const st = await statusOf(voter);
        if (!st) {
          lastReason = "new member does not answer status";
          return false;
        }
        const applied = BigInt(st.raftAppliedIndex !== "0" ? st.raftAppliedIndex : st.raftIndex);
        if (applied >= target) return true;
        lastReason = `applied index ${applied} < ${target}`;
        progress({
          phase: "catching-up",
          memberId: id,
          elapsedMs: elapsed(),
          applied: String(applied),
          target: String(target),
        });
        return false;
      },
      {
        timeoutMs: Math.max(0, deadline - Date.now()),
        what: `etcd member ${id} (${voter.name}) to catch up after its promotion`,
        lastError: () => lastReason,
        minDelayMs: minDelay,
        maxDelayMs: maxDelay,
      },
    );
    const inSyncAfterMs = elapsed();
    progress({ phase: "in-sync", memberId: id, elapsedMs: inSyncAfterMs });
    return { member: voter, promotedNow, attempts, promotedAfterMs, inSyncAfterMs };
  } finally {
    statusClient?.close();
  }
}

/**
 * Remove member `id` (hex). Returns false when it was not a member (already removed). After an
 * unclear failure, re-reads the list: the removal may have been applied.
 */
export async function removeMember(client: EtcdEndpointClient, id: string): Promise<boolean> {
  try {
    // etcd refuses a removal ("unhealthy cluster", before proposing anything) until the voters that
    // stay have been connected for 5 s: a rollback or a replace right after a join meets it.
    await retry(() => client.cluster.memberRemove({ ID: memberIdToDecimal(id) }), {
      retryIf: (err) => /unhealthy cluster/i.test(errorMessage(err)),
      timeoutMs: UNHEALTHY_RETRY_MS,
      ...CLOSE_POLL,
    });
    return true;
  } catch (err) {
    const msg = errorMessage(err);
    if (/member not found/i.test(msg)) return false;
    const after = await listMembers(client).catch(() => undefined);
    if (after && !after.some((m) => m.id === id)) return true;
    throw etcdError(client.endpoint, `remove member ${id}`, err);
  }
}

/**
 * Set member `id`'s (hex) peer URLs. Refuses on a learner (etcd 3.4 would turn it into a voter).
 * Returns false when they were already those URLs.
 */
export async function updatePeerUrls(
  client: EtcdEndpointClient,
  id: string,
  urls: string[],
): Promise<boolean> {
  const members = await listMembers(client);
  const m = members.find((x) => x.id === id);
  if (!m)
    throw new KubehaError(`etcd ${client.endpoint}: cannot update peer URLs of member ${id}: not a member`);
  if (m.isLearner) {
    throw new KubehaError(
      `etcd ${client.endpoint}: refusing to update peer URLs of learner ${describe(m)}: etcd would forget it is a learner; promote it first`,
    );
  }
  const same =
    m.peerUrls.length === urls.length && [...m.peerUrls].sort().join(",") === [...urls].sort().join(",");
  if (same) return false;
  try {
    await client.cluster.memberUpdate({ ID: memberIdToDecimal(id), peerURLs: urls });
  } catch (err) {
    const after = await listMembers(client).catch(() => undefined);
    const now = after?.find((x) => x.id === id);
    if (now && [...now.peerUrls].sort().join(",") === [...urls].sort().join(",")) return true;
    throw etcdError(client.endpoint, `update peer URLs of ${describe(m)} to ${urls.join(",")}`, err);
  }
  return true;
}
