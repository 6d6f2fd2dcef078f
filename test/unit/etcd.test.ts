/**
 * src/etcd against real etcd processes on 127.0.0.1 (TLS): one member grown to three through
 * learners, a learner that never starts, refusals, health, hashKV and snapshots.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { copyFile, stat, writeFile, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type EtcdEndpointClient, connectEndpoint } from "../../src/etcd/client.js";
import { clusterHealth, hashKvAll } from "../../src/etcd/health.js";
import {
  type EtcdMember,
  addLearner,
  initialCluster,
  listMembers,
  memberAt,
  memberHost,
  memberOf,
  samePeerUrl,
  memberIdToDecimal,
  memberIdToHex,
  promoteWhenInSync,
  removeMember,
  updatePeerUrls,
} from "../../src/etcd/members.js";
import { checkSnapshot, saveSnapshot } from "../../src/etcd/snapshot.js";
import { type EtcdNode, EtcdTestCluster, etcdSkipReason, freePort } from "../helpers/etcd-cluster.js";
import { skipUnlessCi } from "../helpers/skip.js";

const keyCount = 8000;
const valueSize = 1024;
const prefix = "/registry/test/";

function keyOf(i: number): string {
  return `${prefix}${String(i).padStart(6, "0")}`;
}

describe("etcd member IDs and --initial-cluster (pure)", () => {
  it("converts etcd3's decimal IDs to etcdctl's hex and back", () => {
    assert.equal(memberIdToHex("1462945566252421922"), "144d6d3dd2355322");
    assert.equal(memberIdToDecimal("144d6d3dd2355322"), "1462945566252421922");
    assert.equal(memberIdToDecimal("0x8e9e05c52164694d"), BigInt("0x8e9e05c52164694d").toString());
  });

  it("lists started members and the new one, and refuses an unstarted other", () => {
    const m = (id: string, name: string, peer: string, isLearner = false): EtcdMember => ({
      id,
      name,
      peerUrls: [peer],
      clientUrls: [],
      isLearner,
      started: name !== "",
    });
    const members = [
      m("a", "master-1", "https://10.0.0.11:2380"),
      m("b", "", "https://10.0.0.12:2380", true),
    ];
    assert.equal(
      initialCluster(members, "master-2", "https://10.0.0.12:2380"),
      "master-1=https://10.0.0.11:2380,master-2=https://10.0.0.12:2380",
    );
    assert.throws(
      () => initialCluster(members, "master-3", "https://10.0.0.13:2380"),
      /member b .*never started/,
    );
    // etcd lists members by their random IDs; the flag lists them by name, then the new one.
    assert.equal(
      initialCluster(
        [m("9", "master-2", "https://10.0.0.12:2380"), m("1", "master-1", "https://10.0.0.11:2380")],
        "master-3",
        "https://10.0.0.13:2380",
      ),
      "master-1=https://10.0.0.11:2380,master-2=https://10.0.0.12:2380,master-3=https://10.0.0.13:2380",
    );
    // The new member as etcd wrote its URL back (IPv6 in another form) is still the new member.
    assert.equal(
      initialCluster(
        [members[0]!, m("c", "", "https://[fd00:0:0::12]:2380", true)],
        "master-2",
        "https://[fd00::12]:2380",
      ),
      "master-1=https://10.0.0.11:2380,master-2=https://[fd00::12]:2380",
    );
  });

  it("finds a host's member by the address of its peer URL, else by name, never by substring", () => {
    const m = (id: string, name: string, peer: string): EtcdMember => ({
      id,
      name,
      peerUrls: [peer],
      clientUrls: [],
      isLearner: name === "",
      started: name !== "",
    });
    const members = [
      m("a", "master-1", "https://localhost:2380"),
      m("b", "master-11", "https://10.0.0.11:2380"),
      m("c", "", "https://10.0.0.1:2380"),
    ];
    assert.equal(memberAt(members, "https://10.0.0.1:2380")?.id, "c");
    assert.equal(memberAt(members, "https://10.0.0.111:2380"), undefined);
    assert.equal(memberAt(members, "https://10.0.0.1:2381"), undefined);
    assert.equal(memberOf(members, memberHost({ name: "master-1", address: "10.0.0.21" }))?.id, "a");
    assert.equal(memberOf(members, memberHost({ name: "master-9", address: "10.0.0.1" }))?.id, "c");
    assert.equal(memberOf(members, memberHost({ name: "", address: "10.0.0.2" })), undefined);
    assert.equal(memberOf(members, memberHost({ name: "master-2", address: "10.0.0.12" })), undefined);
    assert.ok(samePeerUrl("https://[fd00::1]:2380", "https://[fd00:0::1]:2380"));
    assert.ok(!samePeerUrl("https://10.0.0.1:2380", "https://10.0.0.11:2380"));
  });
});

const skip = skipUnlessCi(etcdSkipReason());
describe("etcd: one member to three through learners (real etcd)", { skip }, () => {
  let cluster: EtcdTestCluster;
  let n1: EtcdNode;
  let c1: EtcdEndpointClient;
  const nodes: EtcdNode[] = [];
  const figures: string[] = [];

  before(async () => {
    cluster = await EtcdTestCluster.create();
    // With a low snapshot count the leader compacts its raft log, so new members catch up from a
    // raft snapshot (the database sent whole), as on a long-lived kubeadm cluster.
    cluster.snapshotCount = 1000;
    n1 = await cluster.startFirst("master-1");
    nodes.push(n1);
    c1 = connectEndpoint(n1.clientUrl, cluster.tls);
    const t0 = Date.now();
    const value = Buffer.alloc(valueSize, "x");
    // One put per key (one raft entry each), 100 in flight.
    let next = 0;
    await Promise.all(
      Array.from({ length: 100 }, async () => {
        while (next < keyCount) await c1.kv.put({ key: Buffer.from(keyOf(next++)), value });
      }),
    );
    figures.push(`wrote ${keyCount} keys x ${valueSize} B (one put each) in ${Date.now() - t0} ms`);
  });

  after(async () => {
    c1?.close();
    await cluster?.destroy();
    if (figures.length) console.log(`# etcd figures:\n#   ${figures.join("\n#   ")}`);
  });

  /** Wait until the member list shows `id` with its name (it has published itself). */
  async function waitStarted(id: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if ((await listMembers(c1)).find((m) => m.id === id)?.started) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`member ${id} never published its name`);
  }

  /**
   * Add `name` as a learner, start it, promote it. With `lag`, the learner is frozen once started and
   * the leader moves on by 25% of its log, so etcd answers "not in sync" until it is thawed.
   */
  async function grow(
    name: string,
    options: { lag?: boolean; checks?: (learner: EtcdMember) => Promise<void> } = {},
  ): Promise<EtcdNode> {
    const checks = options.checks;
    const spec = await cluster.spec(name);
    const added = await addLearner(c1, spec.peerUrl, { name });
    assert.equal(added.existed, false);
    assert.equal(added.member.isLearner, true);
    assert.equal(added.member.started, false);
    assert.ok(added.initialCluster.endsWith(`${name}=${spec.peerUrl}`), added.initialCluster);
    assert.equal(added.initialCluster.split(",").length, added.members.length);
    // A resumed run finds the same learner instead of adding another.
    const again = await addLearner(c1, spec.peerUrl, { name });
    assert.equal(again.existed, true);
    assert.equal(again.member.id, added.member.id);
    if (checks) await checks(added.member);

    const t0 = Date.now();
    const node = await cluster.start(spec, added.initialCluster, "existing");
    const started = Date.now() - t0;
    let lagNote = "";
    if (options.lag) {
      await waitStarted(added.member.id);
      node.pause();
      const index = Number((await c1.maintenance.status()).raftIndex);
      const extra = Math.max(1000, Math.ceil(index / 4));
      let k = 0;
      await Promise.all(
        Array.from({ length: 100 }, async () => {
          while (k < extra) await c1.put(`/registry/lag/${k++}`).value("v");
        }),
      );
      lagNote = ` (frozen while the leader committed ${extra} more entries)`;
    }
    const phases: string[] = [];
    const tPromote = Date.now();
    const res = await promoteWhenInSync(c1, added.member.id, {
      timeoutMs: 20_000,
      memberEndpoint: spec.clientUrl,
      onProgress: (p) => {
        phases.push(p.phase);
        if (p.phase === "not-in-sync" && options.lag) node.resume();
      },
    });
    if (options.lag) assert.ok(phases.includes("not-in-sync"), `phases: ${phases.join(",")}`);
    assert.equal(res.promotedNow, true);
    assert.equal(res.member.isLearner, false);
    const viaSnapshot = /sent database snapshot|applied snapshot|received and saved database snapshot/i.test(
      node.logTail(400),
    );
    figures.push(
      `${name}${lagNote}: answering ${started} ms after spawn (caught up ${viaSnapshot ? "from a raft snapshot" : "by log replay"}); ` +
        `promoted ${res.promotedAfterMs} ms after promoteWhenInSync began (${res.attempts} attempt(s)), in sync at ${res.inSyncAfterMs} ms; ` +
        `phases ${[...new Set(phases)].join(",")}; spawn to in-sync ${Date.now() - t0} ms (promote call ${Date.now() - tPromote} ms)`,
    );
    // Promoting again is a no-op that still reports success.
    const again2 = await promoteWhenInSync(c1, added.member.id, {
      timeoutMs: 5000,
      memberEndpoint: spec.clientUrl,
    });
    assert.equal(again2.promotedNow, false);
    nodes.push(node);
    return node;
  }

  it("refuses to add a learner when a voter does not answer status", async () => {
    const dead = `https://127.0.0.1:${await freePort()}`;
    const spec = await cluster.spec("never");
    await assert.rejects(
      addLearner(c1, spec.peerUrl, { name: "never", voterEndpoint: () => dead }),
      (err: Error) =>
        /refusing to add/.test(err.message) && /master-1/.test(err.message) && err.message.includes(dead),
    );
    assert.equal((await listMembers(c1)).length, 1);
  });

  it("adds master-2 as a learner, refuses a second learner and memberUpdate on it, then promotes it in sync", async () => {
    await grow("master-2", {
      checks: async (learner) => {
        const other = await cluster.spec("other");
        await assert.rejects(addLearner(c1, other.peerUrl, { name: "other" }), (err: Error) =>
          new RegExp(`learner member ${learner.id} \\[learner\\].*already exists`).test(err.message),
        );
        await assert.rejects(
          updatePeerUrls(c1, learner.id, [other.peerUrl]),
          /refusing to update peer URLs of learner/,
        );
        const members = await listMembers(c1);
        assert.equal(members.length, 2);
        assert.equal(
          members.find((m) => m.id === learner.id)?.isLearner,
          true,
          "still a learner after the refused update",
        );
      },
    });
  });

  it("adds master-3 while writes continue, retrying while the learner lags behind", async () => {
    let writing = true;
    let written = 0;
    const writer = (async () => {
      while (writing) {
        await c1.put(`/registry/live/${written % 50}`).value(String(written));
        written++;
      }
    })();
    try {
      await grow("master-3", { lag: true });
    } finally {
      writing = false;
      await writer;
    }
    figures.push(`${written} writes during master-3's join`);
  });

  it("is healthy with three started voters, checked by clusterHealth and by etcdctl", async () => {
    const endpoints = nodes.map((n) => n.clientUrl);
    const h = await clusterHealth(endpoints, cluster.tls);
    assert.deepEqual(h.problems, []);
    assert.equal(h.healthy, true);
    assert.equal(h.members?.length, 3);
    assert.ok(h.members?.every((m) => m.started && !m.isLearner));
    assert.ok(h.leader);
    for (const s of h.endpoints) {
      assert.equal(s.version, "3.4.23");
      assert.ok(Number(s.raftAppliedIndex) > 0 && Number(s.dbSize) > 0);
    }
    const out = JSON.parse(await cluster.etcdctl(n1.clientUrl, ["member", "list", "-w", "json"])) as {
      members: { ID: number | string; name: string; isLearner?: boolean }[];
    };
    assert.equal(out.members.length, 3);
    assert.ok(out.members.every((m) => m.name !== "" && m.isLearner !== true));
    // etcdctl's JSON prints IDs as decimal numbers (precision may be lost in JSON.parse); compare names.
    assert.deepEqual(out.members.map((m) => m.name).sort(), ["master-1", "master-2", "master-3"]);
  });

  it("has equal hashKV at one revision on every member, matching etcdctl endpoint hashkv", async () => {
    const endpoints = nodes.map((n) => n.clientUrl);
    // As the apiserver does every 5 minutes: compact history, then compare (hashes cover compact..rev).
    const current = Number((await c1.maintenance.status()).header.revision);
    await c1.kv.compact({ revision: current - 100, physical: true });
    const r = await hashKvAll(endpoints, cluster.tls);
    assert.ok(
      r.hashes.every((h) => h.compactRevision === String(current - 100)),
      JSON.stringify(r),
    );
    assert.equal(r.equal, true, JSON.stringify(r));
    assert.equal(r.hashes.length, 3);
    assert.equal(new Set(r.hashes.map((h) => h.memberId)).size, 3);
    const ctl = JSON.parse(
      await cluster.etcdctl(endpoints.join(","), ["endpoint", "hashkv", `--rev=${r.revision}`, "-w", "json"]),
    ) as { Endpoint: string; HashKV: { hash: number } }[];
    assert.equal(ctl.length, 3);
    for (const e of ctl) assert.equal(String(e.HashKV.hash), r.hashes[0]?.hash, `etcdctl at ${e.Endpoint}`);
  });

  it("serves every key from every member's own store (serializable reads)", async () => {
    for (const n of nodes) {
      const c = connectEndpoint(n.clientUrl, cluster.tls);
      try {
        const range = {
          key: Buffer.from(prefix),
          range_end: Buffer.from(prefix.slice(0, -1) + "0"),
          serializable: true,
        };
        const res = await c.kv.range({ ...range, count_only: true });
        assert.equal(Number(res.count), keyCount, `${n.name}`);
        const last = await c.kv.range({ key: Buffer.from(keyOf(keyCount - 1)), serializable: true });
        assert.equal(last.kvs[0]?.value.length, valueSize, `${n.name}`);
      } finally {
        c.close();
      }
    }
  });

  it("times out promoting a learner that never starts, removes it, and keeps quorum and data", async () => {
    const spec = await cluster.spec("master-4");
    const added = await addLearner(c1, spec.peerUrl, { name: "master-4" });
    const t0 = Date.now();
    const phases = new Set<string>();
    await assert.rejects(
      promoteWhenInSync(c1, added.member.id, { timeoutMs: 1500, onProgress: (p) => phases.add(p.phase) }),
      (err: Error) =>
        err.message.includes(added.member.id) &&
        /not promoted within/.test(err.message) &&
        /has not started/.test(err.message),
    );
    assert.ok(Date.now() - t0 < 4000, "timeout respected");
    assert.deepEqual([...phases], ["waiting-start"]);
    // While the dead learner is there, the cluster still takes writes (a learner is not in the quorum).
    await c1.put("/registry/while-learner-dead").value("ok");
    assert.equal(await removeMember(c1, added.member.id), true);
    assert.equal(await removeMember(c1, added.member.id), false, "removing again is a no-op");
    const members = await listMembers(c1);
    assert.equal(members.length, 3);
    assert.ok(members.every((m) => !m.isLearner));
    await c1.put("/registry/after-remove").value("ok");
    assert.equal(await c1.get("/registry/after-remove").string(), "ok");
    assert.equal(await c1.getAll().prefix(prefix).count(), keyCount);
    const h = await clusterHealth(
      nodes.map((n) => n.clientUrl),
      cluster.tls,
    );
    assert.deepEqual(h.problems, []);
  });

  it("saves a snapshot with mode 0600 that etcdctl snapshot status accepts, and detects corruption", async () => {
    const file = join(cluster.baseDir, "backup", "etcd-snapshot.db");
    const saved = await saveSnapshot(nodes[1]!.clientUrl, cluster.tls, file);
    const st = await stat(file);
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(st.size, saved.bytes);
    // One hash serves both digests (the database's and the file's): the file's must be the plain SHA-256.
    assert.equal(
      saved.sha256,
      createHash("sha256")
        .update(await readFile(file))
        .digest("hex"),
    );
    const check = await checkSnapshot(file);
    assert.equal(check.tool, "etcdctl");
    assert.equal(check.checksumOk, true);
    assert.equal(check.sha256, saved.sha256);
    assert.ok((check.totalKey ?? 0) >= keyCount, `totalKey ${check.totalKey}`);
    // etcd 3.4 sends no header in the snapshot stream; 3.5+ does (the revision the snapshot was taken at).
    if (saved.revision !== undefined) assert.equal(Number(saved.revision), check.revision);
    assert.ok((check.revision ?? 0) > keyCount / 100);
    figures.push(
      `snapshot ${saved.bytes} B in ${saved.durationMs} ms, revision ${check.revision}, ${check.totalKey} keys`,
    );

    const bad = join(cluster.baseDir, "backup", "corrupt.db");
    await copyFile(file, bad);
    const buf = await readFile(bad);
    const mid = Math.floor(buf.length / 2);
    buf.writeUInt8(buf.readUInt8(mid) ^ 0xff, mid);
    await writeFile(bad, buf);
    await assert.rejects(checkSnapshot(bad), /corrupt\.db: SHA-256 trailer does not match/);
  });

  it("with a voter down: health names it and adding a learner is refused", async () => {
    const down = nodes[2]!;
    await down.stop();
    const h = await clusterHealth(
      nodes.map((n) => n.clientUrl),
      cluster.tls,
      { timeoutMs: 1500 },
    );
    assert.equal(h.healthy, false);
    assert.ok(
      h.problems.some((p) => p.includes(down.clientUrl)),
      h.problems.join("; "),
    );
    const spec = await cluster.spec("master-5");
    await assert.rejects(
      addLearner(c1, spec.peerUrl, { name: "master-5" }),
      (err: Error) => /refusing to add/.test(err.message) && err.message.includes("master-3"),
    );
    assert.equal((await listMembers(c1)).length, 3);
  });
});
