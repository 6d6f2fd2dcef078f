import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type MemberState,
  quorumOf,
  quorumWithout,
  removalOrder,
  removalProblem,
} from "../../src/etcd/quorum.js";

const voter = (name: string, healthy = true): MemberState => ({
  id: `id-${name}`,
  name,
  isLearner: false,
  started: true,
  healthy,
});
const learner = (name: string, started = true): MemberState => ({
  id: `id-${name || "new"}`,
  name: started ? name : "",
  isLearner: true,
  started,
  healthy: false,
});

describe("etcd quorum arithmetic (pure)", () => {
  it("quorum is a strict majority of the voters", () => {
    assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumOf), [1, 2, 2, 3, 3, 4, 4]);
  });

  it("a dead master-2 of three leaves quorum; a second dead voter does not, with the arithmetic", () => {
    const ok = quorumWithout([voter("master-1"), voter("master-2", false), voter("master-3")], {
      id: "id-master-2",
      name: "master-2",
    });
    assert.equal(ok.ok, true);
    assert.equal(
      ok.message,
      "3 voting members need 2 for quorum; without master-2, 2 are healthy (master-1, master-3)",
    );
    const lost = quorumWithout([voter("master-1"), voter("master-2", false), voter("master-3", false)], {
      id: "id-master-2",
      name: "master-2",
    });
    assert.equal(lost.ok, false);
    assert.equal(
      lost.message,
      "3 voting members need 2 for quorum; without master-2, 1 is healthy (master-1)",
    );
  });

  it("a learner does not count towards quorum, nor does a healthy target", () => {
    const r = quorumWithout([voter("master-1"), voter("master-2"), learner("master-3")], {
      id: "id-master-2",
      name: "master-2",
    });
    assert.equal(r.ok, false, r.message);
    assert.match(r.message, /^2 voting members need 2 for quorum; without master-2, 1 is healthy/);
  });

  it("a healthy voter may be removed only when every voter that stays is healthy; never the last voter", () => {
    const three = [voter("master-1"), voter("master-2"), voter("master-3", false)];
    assert.equal(removalProblem(three, "id-master-3"), undefined);
    assert.equal(
      removalProblem(three, "id-master-3", { othersHealthy: true }),
      undefined,
      "the others are healthy",
    );
    assert.match(
      removalProblem([...three, voter("master-4", false), voter("master-5")], "id-master-3", {
        othersHealthy: true,
      }) ?? "",
      /4 voting members would remain, needing 3 for quorum, and master-4 is not healthy/,
    );
    assert.equal(
      removalProblem(three, "id-master-2"),
      "refusing to remove master-2: 2 voting members would remain, needing 2 for quorum, and master-3 is not healthy",
    );
    assert.equal(
      removalProblem([voter("master-1")], "id-master-1"),
      "refusing to remove master-1: it is the last voting member",
    );
    assert.equal(removalProblem(three, "id-gone"), undefined, "an absent member is already removed");
    assert.equal(
      removalProblem([voter("master-1"), voter("master-2", false), voter("master-3", false)], "id-master-3"),
      "refusing to remove master-3: 3 voting members need 2 for quorum and 1 is healthy (master-1): the removal could not commit",
    );
    assert.equal(removalProblem([voter("master-1"), learner("", false)], "id-new"), undefined);
  });

  it("removes learners, never-started voters and unhealthy voters before healthy ones, newest first", () => {
    const m2 = voter("master-2");
    const m3 = voter("master-3");
    const m4 = { ...voter("master-4", false), started: false, name: "" };
    const m5 = learner("master-5");
    const m6 = voter("master-6", false);
    assert.deepEqual(
      removalOrder([m2, m3, m4, m5, m6]).map((m) => m.id),
      ["id-master-5", "id-master-4", "id-master-6", "id-master-3", "id-master-2"],
    );
    // In that order every removal leaves only healthy voters.
    let members: MemberState[] = [voter("master-1"), m2, m3, m4, m5, m6];
    for (const m of removalOrder([m2, m3, m4, m5, m6])) {
      assert.equal(removalProblem(members, m.id), undefined, `removing ${m.id}`);
      members = members.filter((x) => x.id !== m.id);
    }
    assert.deepEqual(
      members.map((m) => m.name),
      ["master-1"],
    );
  });
});
