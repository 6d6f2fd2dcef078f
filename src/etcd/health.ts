/**
 * Cluster health as the orchestration checks it between membership steps, and hashKV consistency.
 * Every endpoint is asked on its own client: one answer per member, never a random one.
 */
import { type EtcdEndpointClient, type EtcdTls, closeAll, connectEndpoint, errorMessage } from "./client.js";
import { attemptWithBackoff, retry } from "../poll.js";
import { type EtcdMember, listMembers, memberIdToHex } from "./members.js";

/** What one endpoint says about itself (`etcdctl endpoint status`). Numbers are decimal strings (uint64). */
export interface EndpointStatus {
  endpoint: string;
  ok: boolean;
  memberId?: string;
  version?: string;
  dbSize?: string;
  /** Leader's member ID (hex), "0" when it knows none. */
  leader?: string;
  isLearner?: boolean;
  raftIndex?: string;
  /** etcd ≥ 3.4 reports it; otherwise the same as raftIndex. */
  raftAppliedIndex?: string;
  raftTerm?: string;
  /** Errors the member reports (alarms) or the call's failure. */
  errors: string[];
}

export interface ClusterHealth {
  healthy: boolean;
  endpoints: EndpointStatus[];
  /** Leader (hex) when all answering members agree on one. */
  leader?: string;
  members?: EtcdMember[];
  alarms: { memberId: string; alarm: string }[];
  /** Why it is not healthy, one line each. */
  problems: string[];
}

export interface HealthOptions {
  /** Largest allowed spread of raft index between members (default 100). */
  maxRaftIndexGap?: number;
  timeoutMs?: number;
}

/** Status of one endpoint through an existing client; never throws. */
export async function endpointStatus(client: EtcdEndpointClient): Promise<EndpointStatus> {
  try {
    const st = await client.maintenance.status();
    return {
      endpoint: client.endpoint,
      ok: st.errors.length === 0,
      memberId: memberIdToHex(st.header.member_id),
      version: st.version,
      dbSize: st.dbSize,
      leader: memberIdToHex(st.leader),
      isLearner: st.isLearner,
      raftIndex: st.raftIndex,
      raftAppliedIndex:
        st.raftAppliedIndex && st.raftAppliedIndex !== "0" ? st.raftAppliedIndex : st.raftIndex,
      raftTerm: st.raftTerm,
      errors: [...st.errors],
    };
  } catch (err) {
    return { endpoint: client.endpoint, ok: false, errors: [`status: ${errorMessage(err)}`] };
  }
}

/**
 * Check the cluster through `endpoints` (one per member): every member in the member list answers,
 * all agree on exactly one leader, raft indexes are within `maxRaftIndexGap`, and no alarm is raised.
 */
export async function clusterHealth(
  endpoints: string[],
  tls: EtcdTls,
  options: HealthOptions = {},
): Promise<ClusterHealth> {
  const gap = BigInt(options.maxRaftIndexGap ?? 100);
  const clients = endpoints.map((e) => connectEndpoint(e, tls, { timeoutMs: options.timeoutMs }));
  const problems: string[] = [];
  try {
    const statuses = await Promise.all(clients.map(endpointStatus));
    for (const s of statuses) if (!s.ok) problems.push(`${s.endpoint}: ${s.errors.join(", ")}`);
    const answering = statuses.filter((s) => s.memberId !== undefined);

    // The member list and alarms come from a voter that answered (a learner cannot serve them).
    const voterIdx = statuses.findIndex((s) => s.memberId !== undefined && !s.isLearner);
    let members: EtcdMember[] | undefined;
    const alarms: { memberId: string; alarm: string }[] = [];
    const ref = voterIdx >= 0 ? clients[voterIdx] : undefined;
    if (ref) {
      try {
        members = await listMembers(ref);
      } catch (err) {
        problems.push(errorMessage(err));
      }
      try {
        const res = await ref.maintenance.alarm({ action: "Get", memberID: 0, alarm: "None" });
        for (const a of res.alarms) {
          if (a.alarm !== "None") alarms.push({ memberId: memberIdToHex(a.memberID), alarm: a.alarm });
        }
      } catch (err) {
        problems.push(`${ref.endpoint}: alarm list: ${errorMessage(err)}`);
      }
    } else {
      problems.push("no voting member answered");
    }
    for (const a of alarms) problems.push(`alarm ${a.alarm} on member ${a.memberId}`);

    if (members) {
      for (const m of members) {
        if (!answering.some((s) => s.memberId === m.id)) {
          problems.push(
            `member ${m.id}${m.name ? ` (${m.name})` : ""}${m.isLearner ? " [learner]" : ""} did not answer (not among the checked endpoints or down)`,
          );
        }
      }
    }
    const leaders = new Set(answering.map((s) => s.leader));
    let leader: string | undefined;
    if (leaders.size === 1 && !leaders.has("0")) {
      leader = [...leaders][0];
      if (members && !members.some((m) => m.id === leader))
        problems.push(`leader ${leader} is not in the member list`);
    } else if (answering.length > 0) {
      problems.push(
        `members disagree on or have no leader: ${answering.map((s) => `${s.memberId}→${s.leader}`).join(", ")}`,
      );
    }
    const indexes = answering.map((s) => BigInt(s.raftIndex ?? "0"));
    if (indexes.length > 1) {
      const max = indexes.reduce((a, b) => (a > b ? a : b));
      const min = indexes.reduce((a, b) => (a < b ? a : b));
      if (max - min > gap)
        problems.push(
          `raft index spread ${max - min} > ${gap} (${answering.map((s) => `${s.memberId}:${s.raftIndex}`).join(", ")})`,
        );
    }
    return { healthy: problems.length === 0, endpoints: statuses, leader, members, alarms, problems };
  } finally {
    closeAll(clients);
  }
}

export interface EndpointHash {
  endpoint: string;
  memberId?: string;
  hash?: string;
  compactRevision?: string;
  error?: string;
}

export interface HashKvResult {
  revision: string;
  /** All endpoints answered with the same hash and the same compact revision. */
  equal: boolean;
  hashes: EndpointHash[];
}

interface RawHashKvResponse {
  header: { member_id: string; revision: string };
  hash: number | string;
  compact_revision: string;
}

/**
 * hashKV of every endpoint at one revision (default: the lowest current revision among them, so all
 * have applied it). Members that have not applied the revision yet are retried for up to `timeoutMs`.
 * Hashes are comparable only at equal compact revisions; `equal` requires both to match.
 */
export async function hashKvAll(
  endpoints: string[],
  tls: EtcdTls,
  revision?: string | number,
  options: { timeoutMs?: number } = {},
): Promise<HashKvResult> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const clients = endpoints.map((e) => connectEndpoint(e, tls, { timeoutMs }));
  try {
    // Hashes cover (compact revision, revision]: a compaction applied on some members but not yet on
    // others, or one that overtakes the chosen revision, makes them differ or fail. Look again a few
    // times before calling that a mismatch (etcd's own corruption check does the same).
    let result: HashKvResult | undefined;
    const once = async (): Promise<boolean> => {
      let rev = revision === undefined ? undefined : BigInt(revision);
      if (rev === undefined) {
        const revs = await Promise.all(
          clients.map((c) =>
            c.maintenance
              .status()
              .then((s) => BigInt(s.header.revision))
              .catch(() => undefined),
          ),
        );
        const known = revs.filter((r): r is bigint => r !== undefined);
        rev = known.length ? known.reduce((a, b) => (a < b ? a : b)) : 0n;
      }
      const target = rev;
      const hashes = await Promise.all(clients.map((c) => hashOne(c, target, timeoutMs)));
      const first = hashes[0];
      const equal =
        first !== undefined &&
        hashes.every(
          (h) =>
            h.error === undefined && h.hash === first.hash && h.compactRevision === first.compactRevision,
        );
      result = { revision: String(target), equal, hashes };
      const transient =
        new Set(hashes.map((h) => h.compactRevision)).size > 1 ||
        hashes.some((h) => h.error !== undefined && /compacted/i.test(h.error));
      return equal || !transient;
    };
    await attemptWithBackoff(once, { attempts: 4, minDelayMs: 250, maxDelayMs: 1000, deadline: Infinity });
    return result!;
  } finally {
    closeAll(clients);
  }
}

async function hashOne(
  client: EtcdEndpointClient,
  revision: bigint,
  timeoutMs: number,
): Promise<EndpointHash> {
  try {
    // A member that has not applied `revision` yet says "future revision": ask it again.
    const res = await retry(
      () => client.rawUnary<RawHashKvResponse>("Maintenance", "hashKv", { revision: String(revision) }),
      {
        retryIf: (err) => /future revision/i.test(errorMessage(err)),
        timeoutMs,
        minDelayMs: 50,
        maxDelayMs: 1000,
      },
    );
    return {
      endpoint: client.endpoint,
      memberId: memberIdToHex(res.header.member_id),
      hash: String(res.hash),
      compactRevision: res.compact_revision,
    };
  } catch (err) {
    return { endpoint: client.endpoint, error: `hashKV at revision ${revision}: ${errorMessage(err)}` };
  }
}
