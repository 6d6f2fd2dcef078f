// The cluster lock's decision (free, held until T, taken over) and the etcd undo advice after a failed join.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { LeaseSpec } from "../../src/kube/types.js";
import {
  decide,
  heldMessage,
  holderIdentity,
  microTime,
  parseHolder,
  serverOffsetMs,
  type Self,
} from "../../src/lock/decide.js";
import { etcdUndoAdvice, type JoinedMember } from "../../src/phases/etcd-undo.js";
import { ClusterLock } from "../../src/lock/lease.js";
import type { KubeClient } from "../../src/kube/client.js";
import { ExitCode, KubehaError } from "../../src/errors.js";

const now = new Date("2026-05-01T10:00:00.000Z");
const me: Self = { user: "ann", host: "ws-ann", pid: 100, isAlive: (pid) => pid === 100 || pid === 200 };
const lease = (holder: string, renewedSecondsAgo: number, extra: Partial<LeaseSpec> = {}): LeaseSpec => ({
  holderIdentity: holder,
  leaseDurationSeconds: 60,
  acquireTime: microTime(new Date(now.getTime() - 300_000)),
  renewTime: microTime(new Date(now.getTime() - renewedSecondsAgo * 1000)),
  ...extra,
});

describe("the cluster lock's decision", () => {
  test("no lease, or one without a holder, is free", () => {
    assert.deepEqual(decide(undefined, now, me), { kind: "free" });
    assert.deepEqual(decide({ leaseDurationSeconds: 60 }, now, me), { kind: "free" });
  });

  test("a lease renewed within its duration by another machine is held, until renewal time + duration", () => {
    const d = decide(lease("bob@ws-bob pid 7", 20), now, me);
    assert.equal(d.kind, "held");
    assert.ok(d.kind === "held");
    assert.equal(d.holder, "bob@ws-bob pid 7");
    assert.equal(d.since?.toISOString(), "2026-05-01T09:55:00.000Z");
    assert.equal(d.expires?.toISOString(), "2026-05-01T10:00:40.000Z");
    // Another machine's pid says nothing about this one's processes.
    assert.equal(decide(lease("bob@ws-bob pid 999", 20), now, me).kind, "held");
  });

  test("a lease past its renewal time + duration is taken over, saying since when it expired", () => {
    const d = decide(lease("bob@ws-bob pid 7", 61), now, me);
    assert.equal(d.kind, "takeover");
    assert.ok(d.kind === "takeover");
    assert.match(d.why, /expired at 2026-05-01T09:59:59\.000Z/);
    assert.equal(decide(lease("bob@ws-bob pid 7", 60), now, me).kind, "takeover");
  });

  test("a lease of a process of this machine that no longer runs (a killed run) is taken over", () => {
    const d = decide(lease("ann@ws-ann pid 300", 5), now, me);
    assert.equal(d.kind, "takeover");
    assert.ok(d.kind === "takeover");
    assert.match(d.why, /process 300 no longer runs on ws-ann/);
    // Still running on this machine (another terminal): held.
    assert.equal(decide(lease("ann@ws-ann pid 200", 5), now, me).kind, "held");
    // Our own pid, from before a reboot: not us, since we have not taken it yet.
    assert.equal(decide(lease("ann@ws-ann pid 100", 5), now, me).kind, "takeover");
  });

  test("a lease without times, written by hand, is held: nothing says its holder is gone", () => {
    const d = decide({ holderIdentity: "someone" }, now, me);
    assert.equal(d.kind, "held");
    assert.ok(d.kind === "held");
    assert.match(heldMessage(d), /it has no renew time, so it does not expire/);
  });

  test("the refusal names the holder, the command, since and until when, and how to clear it", () => {
    const d = decide(lease("bob@ws-bob pid 7", 20), now, me);
    assert.ok(d.kind === "held");
    const m = heldMessage(d, "apply");
    assert.equal(m.split("\n").length, 1);
    assert.match(
      m,
      /holds the cluster lock: bob@ws-bob pid 7 \(kubeha apply\) since 2026-05-01T09:55:00\.000Z; it expires at 2026-05-01T10:00:40\.000Z unless renewed\. Nothing was changed\./,
    );
    assert.match(m, /kubectl -n kube-system delete lease kubeha-lock$/);
  });

  test("times are the apiserver's: its clock's offset from one request and its Date header", () => {
    const sent = Date.parse("2026-05-01T10:00:00.000Z");
    // The server's clock says 10:02:00.x while ours says 10:00:00.1: two minutes ahead, give or take 0.5s.
    assert.equal(serverOffsetMs(sent, sent + 200, new Date("2026-05-01T10:02:00Z")), 120_400);
    assert.equal(serverOffsetMs(sent, sent + 200, undefined), 0);
  });

  test("holder identity and MicroTime formats", () => {
    const id = holderIdentity({ user: "ann", host: "ws-ann.example.com", pid: 42 });
    assert.equal(id, "ann@ws-ann.example.com pid 42");
    assert.deepEqual(parseHolder(id), { user: "ann", host: "ws-ann.example.com", pid: 42 });
    assert.equal(parseHolder("leader-election-id"), undefined);
    assert.equal(microTime(now), "2026-05-01T10:00:00.000000Z");
  });
});

describe("undo advice after a failed etcd join", () => {
  const advice = (m: JoinedMember | undefined | "unknown") =>
    etcdUndoAdvice("master-2", m, "/etc/kubernetes/manifests/etcd.yaml", "/var/lib/etcd");
  const member = (over: Partial<JoinedMember>): JoinedMember => ({
    id: "8e9e05c52164694d",
    isLearner: false,
    started: true,
    healthy: true,
    ...over,
  });

  test("a started, healthy voter is never to be removed", () => {
    const a = advice(member({}));
    assert.doesNotMatch(a, /member remove/);
    assert.match(a, /master-2 is a started, healthy voting member .* must not be removed/);
    assert.match(a, /run `kubeha apply` again/);
  });

  test("a learner, a member that never started, or an unhealthy one may be removed, by its id", () => {
    for (const [over, why] of [
      [{ isLearner: true }, "a learner"],
      [{ isLearner: true, started: false }, "a learner"],
      [{ started: false, healthy: false }, "never started"],
      [{ healthy: false }, "not healthy"],
    ] as const) {
      assert.match(
        advice(member(over)),
        new RegExp(`^etcdctl member remove 8e9e05c52164694d \\(master-2, ${why}\\), then move`),
      );
    }
  });

  test("not a member: only the manifest and data; membership unknown: no id, and the rule", () => {
    assert.equal(
      advice(undefined),
      "master-2 is not an etcd member: move /etc/kubernetes/manifests/etcd.yaml away on master-2 and clear /var/lib/etcd",
    );
    const u = advice("unknown");
    assert.doesNotMatch(u, /etcdctl member remove/);
    assert.match(u, /never a started, healthy voter/);
  });
});

describe("ClusterLock.refuseIfHeld (asked before the confirmation question)", () => {
  const clientWith = (spec: LeaseSpec | undefined) => async () =>
    ({
      serverDate: new Date(),
      getOptional: async () =>
        spec && { metadata: { name: "kubeha-lock", resourceVersion: "7", annotations: {} }, spec },
    }) as unknown as KubeClient;

  test("a lease another machine renewed just now refuses with exit 2, naming the holder", async () => {
    const fresh = { ...lease("bob@ws-bob pid 7", 0), renewTime: microTime(new Date()) };
    await assert.rejects(ClusterLock.refuseIfHeld([clientWith(fresh)]), (err: unknown) => {
      assert.ok(err instanceof KubehaError);
      assert.equal(err.exitCode, ExitCode.badInput);
      assert.match(err.message, /bob@ws-bob pid 7/);
      return true;
    });
  });

  test("no lease, or an expired one, lets the question be asked", async () => {
    await ClusterLock.refuseIfHeld([clientWith(undefined)]);
    const old = { ...lease("bob@ws-bob pid 7", 0), renewTime: microTime(new Date(Date.now() - 600_000)) };
    await ClusterLock.refuseIfHeld([clientWith(old)]);
  });
});
