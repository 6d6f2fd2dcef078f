// `kubeha replace` against the lab: master-2 dies after the conversion (its network link goes down, as
// a dead machine's would) and a spare host takes its place; checked with etcdctl, kubectl and nginx -T.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { startLab, type Lab } from "./lab.js";
import { inventoryVariant, kubeha } from "./kubeha.js";
import { equalHashes, etcdctl } from "./etcdctl.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

async function members(lab: Lab): Promise<{ name?: string; isLearner?: boolean; peerURLs?: string[] }[]> {
  const list = await etcdctl(lab, [lab.primary.address], "member", "list", "-w", "json");
  assert.equal(list.code, 0, list.stderr);
  return (JSON.parse(list.stdout) as { members: { name?: string; isLearner?: boolean }[] }).members;
}

describe("replace a dead master", { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ workers: 1, spares: 1 });
  });
  after(async () => {
    await lab?.stop();
  });

  test("master-2 down: refused while it is still in the inventory; then replaced by master-4", async () => {
    const applied = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile], { timeoutMs: 300_000 });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    const down = await lab.exec("master-2", ["ip", "link", "set", "eth0", "down"]);
    assert.equal(down.code, 0, down.stderr);

    const spare = lab.host("master-4");
    const inv = await inventoryVariant(lab, "replaced", (i) => {
      i.masters = i.masters.map((m: { name: string }) =>
        m.name === "master-2" ? { name: spare.name, address: spare.address } : m,
      );
    });
    const stale = await kubeha(lab, [
      "replace",
      "master-2",
      "--with",
      "master-4",
      "-i",
      lab.inventoryFile,
      "--yes",
    ]);
    assert.equal(stale.code, 2, stale.stdout + stale.stderr);
    assert.match(
      stale.stderr,
      /master-2 is still in the inventory \(masters\[0\]\): take it out first, and put master-4 in its place/,
    );

    const dry = await kubeha(lab, ["replace", "master-2", "--with", "master-4", "--dry-run", "-i", inv], {
      timeoutMs: 300_000,
    });
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(
      dry.stdout.replace(/\n +/g, " "),
      /etcd: member remove <master-2's member: peer https:\/\/[\d.]+:2380> \(through master-1\)/,
    );
    // The plan fits 80 columns: long lines go on, indented, on the next.
    const flat = dry.stdout.replace(/\n +/g, " ");
    assert.match(flat, /kubectl delete node master-2/);
    assert.match(flat, /member add master-4 https:\/\/[\d.]+:2380 --learner/);
    assert.match(dry.stderr + dry.stdout, /master-2 \([\d.]+\) cannot be reached/);
    // The LB's upstreams change before the member goes.
    assert.ok(dry.stdout.indexOf("nginx stream load balancer") < dry.stdout.indexOf("master-2's member"));
    assert.equal((await members(lab)).length, 3, "the dry run changed nothing");

    const r = await kubeha(lab, ["replace", "master-2", "--with", "master-4", "--yes", "-i", inv], {
      timeoutMs: 400_000,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /checks passed: the control plane is highly available/);

    const now = await members(lab);
    assert.deepEqual(now.map((m) => m.name).sort(), ["master-1", "master-3", "master-4"]);
    assert.ok(now.every((m) => !m.isLearner));
    await equalHashes(lab, ["master-1", "master-3", "master-4"]);
    const keys = await etcdctl(
      lab,
      [spare.address],
      "get",
      "/registry/",
      "--prefix",
      "--keys-only",
      "--consistency=s",
    );
    const count = keys.stdout.split("\n").filter((l) => l.startsWith("/registry/")).length;
    assert.ok(count >= lab.fixture.filledKeys, `master-4 holds ${count} keys`);

    const nodes = await lab.wsExec([
      "kubectl",
      "--kubeconfig",
      lab.adminKubeconfig,
      "--server",
      `https://${spare.address}:6443`,
      "get",
      "nodes",
      "-o",
      "name",
    ]);
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.doesNotMatch(nodes.stdout, /node\/master-2\b/);
    assert.match(nodes.stdout, /node\/master-4\b/);
    const t = await lab.exec("lb", ["nginx", "-T"]);
    assert.match(t.stdout, new RegExp(`server ${spare.address.replace(/\./g, "\\.")}:6443`));
    assert.doesNotMatch(
      t.stdout,
      new RegExp(`server ${lab.host("master-2").address.replace(/\./g, "\\.")}:6443`),
    );

    // master-2 comes back: its removed member is not let in again.
    const up = await lab.exec("master-2", ["ip", "link", "set", "eth0", "up"]);
    assert.equal(up.code, 0, up.stderr);
    await new Promise((res) => setTimeout(res, 5000));
    assert.deepEqual((await members(lab)).map((m) => m.name).sort(), ["master-1", "master-3", "master-4"]);
    const verify = await kubeha(lab, ["verify", "-i", inv]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
});
