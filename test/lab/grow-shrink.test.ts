// Three masters to five (`apply` with two more masters in the inventory: learners one at a time) and
// back to three (`kubeha remove`, one member at a time, the LB's upstreams first), seen by etcdctl,
// kubectl and nginx -T.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { inventoryVariant, kubeha } from "./kubeha.js";
import { equalHashes } from "./etcdctl.js";
import { upstreams, voters } from "./control-plane-checks.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

describe("grow from three masters to five, shrink back to three", { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ workers: 1, spares: 2 });
  });
  after(async () => {
    await lab?.stop();
  });

  test("apply with master-4 and master-5 added; then kubeha remove master-5 master-4", async () => {
    const three = ["master-1", "master-2", "master-3"];
    const five = [...three, "master-4", "master-5"];
    const r = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);

    const grown = await inventoryVariant(lab, "five", (i) => {
      for (const s of lab.spares) i.masters.push({ name: s.name, address: s.address });
    });
    const grow = await kubeha(lab, ["apply", "--yes", "-i", grown], { timeoutMs: 500_000 });
    assert.equal(grow.code, 0, grow.stdout + grow.stderr);
    // One learner at a time: master-4 is a voter before master-5 is added.
    assert.ok(
      grow.stdout.indexOf("[master-4] etcd: promoted") <
        grow.stdout.indexOf("[master-5] etcd: learner added"),
    );
    assert.deepEqual(await voters(lab), five);
    await equalHashes(lab, five);
    assert.deepEqual(await upstreams(lab), five);

    const shrink = await kubeha(lab, ["remove", "master-4", "master-5", "--yes", "-i", lab.inventoryFile], {
      timeoutMs: 300_000,
    });
    assert.equal(shrink.code, 0, shrink.stdout + shrink.stderr);
    assert.match(shrink.stdout, /checks passed: the control plane is highly available/);
    // The LB's upstreams first, then master-5 (the newest) and master-4, one member at a time.
    const lb = shrink.stdout.indexOf(
      "[lb] nginx stream load balancer on lb (port 6443) in front of master-1, master-2, master-3: done",
    );
    const m5 = shrink.stdout.indexOf("[master-5] etcd: member");
    const m4 = shrink.stdout.indexOf("[master-4] etcd: member");
    assert.ok(lb >= 0 && lb < m5 && m5 < m4, shrink.stdout);
    assert.deepEqual(await voters(lab), three);
    await equalHashes(lab, three);
    assert.deepEqual(await upstreams(lab), three);
    const nodes = await lab.wsExec([
      "kubectl",
      "--kubeconfig",
      lab.adminKubeconfig,
      "get",
      "nodes",
      "-o",
      "name",
    ]);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.doesNotMatch(nodes.stdout, /node\/master-[45]\b/);
    for (const s of lab.spares) {
      assert.deepEqual(await readdir(join(lab.dir, "h", s.name, "etc-kubernetes", "manifests")), [], s.name);
    }
  });
});
