// `kubeha replace` killed (SIGKILL) at its delicate points, then run again: right after the LB's
// nginx was reloaded with the new upstreams (the old master's member still in etcd), right after the
// old master's etcd member was removed (before the journal records the step done), and right after
// its Node was deleted (nothing in the cluster names it any more). Each re-run must finish with a
// verified cluster and exactly the expected members, seen with etcdctl, kubectl and nginx -T.
import { describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { inventoryVariant, kubeha, kubehaKilledAt } from "./kubeha.js";
import { equalHashes } from "./etcdctl.js";
import { nodeNames, upstreams, voters } from "./control-plane-checks.js";
import { stateAtKill } from "./kill-state.js";
import { sharedLab } from "./shared-lab.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

describe(
  "replace: killed at the LB change, the member removal and the Node deletion, then run again",
  { skip },
  () => {
    const lab = sharedLab({ workers: 1, spares: 3 });

    /** The lab's inventory with master-2 and `by` as the new masters. */
    const withMasters = (by: string) =>
      inventoryVariant(lab(), `masters-2-${by}`, (i) => {
        i.masters = ["master-2", by].map((n) => ({ name: n, address: lab().host(n).address }));
      });

    /** `kubeha replace old --with by`, SIGKILLed at `point`; then the same command run to the end. */
    async function killedThenResumed(t: TestContext, old: string, by: string, point: RegExp) {
      const args = ["replace", old, "--with", by, "--yes", "-i", await withMasters(by)];
      const killed = await kubehaKilledAt(lab(), args, point, "SIGKILL", 400_000);
      assert.ok(killed.killed, `the run never reached ${point}:\n${killed.stdout}`);
      assert.equal(killed.code, 137, killed.stdout);
      const at = { ...(await stateAtKill(lab())), upstreams: await upstreams(lab()) };
      const t0 = Date.now();
      const done = await kubeha(lab(), args, { timeoutMs: 400_000 });
      assert.equal(done.code, 0, done.stdout + done.stderr);
      assert.match(done.stdout, /already done/);
      assert.match(done.stdout, /checks passed: the control plane is highly available/);
      const three = ["master-1", "master-2", by];
      assert.deepEqual(await voters(lab()), three);
      await equalHashes(lab(), three);
      assert.deepEqual(await upstreams(lab()), three);
      assert.deepEqual(await nodeNames(lab()), [...three, "worker-1"]);
      const verify = await kubeha(lab(), ["verify", "-i", args.at(-1)!]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      t.diagnostic(
        `killed after ${(killed.ms / 1000).toFixed(1)} s; the re-run took ${((Date.now() - t0) / 1000).toFixed(1)} s`,
      );
      return at;
    }

    test("converted first", async () => {
      const r = await kubeha(lab(), ["apply", "--yes", "-i", lab().inventoryFile], { timeoutMs: 300_000 });
      assert.equal(r.code, 0, r.stdout + r.stderr);
    });

    test("replace master-3 by master-4, killed once nginx was reloaded without master-3", async (t) => {
      const at = await killedThenResumed(t, "master-3", "master-4", /\[lb\] nginx: wrote .*reload/);
      assert.deepEqual(at.inProgress, ["load-balancer/lb"]);
      // The upstreams changed, the member not yet.
      assert.deepEqual(at.upstreams, ["master-1", "master-2", "master-4"]);
      assert.deepEqual(at.voters, ["master-1", "master-2", "master-3"]);
      assert.deepEqual(at.learners, []);
    });

    test("replace master-4 by master-5, killed right after master-4's member was removed", async (t) => {
      const at = await killedThenResumed(
        t,
        "master-4",
        "master-5",
        /\[master-4\] etcd: member \w+ \(master-4\) removed/,
      );
      assert.deepEqual(at.inProgress, ["retire/etcd/master-4"]);
      assert.deepEqual(at.upstreams, ["master-1", "master-2", "master-5"]);
      assert.deepEqual(at.voters, ["master-1", "master-2"]);
      assert.deepEqual(at.learners, []);
    });

    test("replace master-5 by master-6, killed right after master-5's Node was deleted (its member gone too)", async (t) => {
      const at = await killedThenResumed(t, "master-5", "master-6", /\[master-5\] Node master-5 deleted/);
      assert.deepEqual(at.inProgress, ["retire/node/master-5"]);
      assert.deepEqual(at.voters, ["master-1", "master-2"]);
      assert.deepEqual(at.upstreams, ["master-1", "master-2", "master-6"]);
    });
  },
);
