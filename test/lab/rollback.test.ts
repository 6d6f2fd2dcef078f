// `kubeha rollback` against the lab: a finished conversion and one killed half-way, each returned to
// master-1 alone and checked with etcdctl, kubectl, openssl and the hosts' files, not with kubeha's code.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Lab } from "./lab.js";
import { sharedLab } from "./shared-lab.js";
import { kubeha, kubehaKilledAt } from "./kubeha.js";
import { etcdctl } from "./etcdctl.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();
const hostDir = (lab: Lab, name: string, ...rel: string[]) => join(lab.dir, "h", name, ...rel);

function kubectl(lab: Lab, ...args: string[]) {
  return lab.wsExec(["kubectl", "--kubeconfig", lab.adminKubeconfig, "--request-timeout=10s", ...args]);
}

/** What the rollback must give back: read before the conversion. */
interface Original {
  apiserverCrt: string;
  clusterConfiguration: string;
}

async function original(lab: Lab): Promise<Original> {
  const cc = await kubectl(
    lab,
    "-n",
    "kube-system",
    "get",
    "cm",
    "kubeadm-config",
    "-o",
    "jsonpath={.data.ClusterConfiguration}",
  );
  assert.equal(cc.code, 0, cc.stderr);
  return {
    apiserverCrt: await readFile(hostDir(lab, "master-1", "etc-kubernetes", "pki", "apiserver.crt"), "utf8"),
    clusterConfiguration: cc.stdout,
  };
}

function serverOf(kubeconfig: string): string[] {
  return [...kubeconfig.matchAll(/^\s*server: (\S+)$/gm)].map((m) => m[1]!);
}

/** A key written after the conversion, and every member's hashKV at that revision. */
async function markAfterConversion(lab: Lab): Promise<{ revision: number; hash: number }> {
  const put = await etcdctl(lab, [lab.primary.address], "put", "/kubeha-test/after-conversion", "kept");
  assert.equal(put.code, 0, put.stderr);
  const st = await etcdctl(lab, [lab.primary.address], "endpoint", "status", "-w", "json");
  const revision = (JSON.parse(st.stdout) as { Status: { header: { revision: number } } }[])[0]!.Status.header
    .revision;
  const list = await etcdctl(lab, [lab.primary.address], "member", "list", "-w", "json");
  const voters = (
    JSON.parse(list.stdout) as { members: { clientURLs?: string[]; isLearner?: boolean }[] }
  ).members
    .filter((m) => !m.isLearner && m.clientURLs?.length)
    .map((m) => new URL(m.clientURLs![0]!).hostname);
  const h = await etcdctl(lab, voters, "endpoint", "hashkv", `--rev=${revision}`, "-w", "json");
  assert.equal(h.code, 0, h.stderr);
  const hashes = (JSON.parse(h.stdout) as { HashKV: { hash: number } }[]).map((x) => x.HashKV.hash);
  assert.equal(new Set(hashes).size, 1, `hashkv before the rollback: ${hashes.join(", ")}`);
  return { revision, hash: hashes[0]! };
}

/** master-1 alone again, as etcdctl, kubectl, openssl and the files on every host see it. */
async function assertSingleMaster(lab: Lab, orig: Original, mark: { revision: number; hash: number }) {
  const m1 = lab.primary.address;
  const list = await etcdctl(lab, [m1], "member", "list", "-w", "json");
  assert.equal(list.code, 0, list.stderr);
  const members = (JSON.parse(list.stdout) as { members: { name?: string; isLearner?: boolean }[] }).members;
  assert.deepEqual(
    members.map((m) => [m.name, Boolean(m.isLearner)]),
    [["master-1", false]],
  );
  const health = await etcdctl(lab, [m1], "endpoint", "health");
  assert.equal(health.code, 0, health.stdout + health.stderr);
  // No snapshot restore: the data up to the mark is unchanged, and the key written after the conversion is there.
  const h = await etcdctl(lab, [m1], "endpoint", "hashkv", `--rev=${mark.revision}`, "-w", "json");
  assert.equal(h.code, 0, h.stderr);
  assert.equal((JSON.parse(h.stdout) as { HashKV: { hash: number } }[])[0]!.HashKV.hash, mark.hash);
  const kept = await etcdctl(lab, [m1], "get", "/kubeha-test/after-conversion", "--print-value-only");
  assert.equal(kept.stdout.trim(), "kept");
  const keys = await etcdctl(lab, [m1], "get", "/registry/", "--prefix", "--keys-only");
  const count = keys.stdout.split("\n").filter((l) => l.startsWith("/registry/")).length;
  assert.ok(count >= lab.fixture.filledKeys, `${count} keys, expected ${lab.fixture.filledKeys}+`);

  // Every kubeconfig kubeha moved points at master-1 again; kubectl works through it.
  const primaryServer = `https://${m1}:6443`;
  for (const [host, file] of [
    ["master-1", "admin.conf"],
    ["master-1", "kubelet.conf"],
    ...lab.workers.map((w) => [w.name, "kubelet.conf"]),
  ] as [string, string][]) {
    const text = await readFile(hostDir(lab, host, "etc-kubernetes", file), "utf8");
    assert.deepEqual(serverOf(text), [primaryServer], `${host}:/etc/kubernetes/${file}`);
  }
  for (const [ns, cm, key] of [
    ["kube-system", "kube-proxy", "kubeconfig\\.conf"],
    ["kube-public", "cluster-info", "kubeconfig"],
  ]) {
    const r = await kubectl(lab, "-n", ns!, "get", "cm", cm!, "-o", `jsonpath={.data.${key}}`);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(serverOf(r.stdout), [primaryServer], `${ns}/${cm}`);
  }
  const cc = await kubectl(
    lab,
    "-n",
    "kube-system",
    "get",
    "cm",
    "kubeadm-config",
    "-o",
    "jsonpath={.data.ClusterConfiguration}",
  );
  assert.equal(cc.stdout, orig.clusterConfiguration, "kubeadm-config as before the conversion");
  const nodes = await kubectl(lab, "get", "nodes", "-o", "name");
  assert.equal(nodes.code, 0, nodes.stderr);
  assert.deepEqual(
    nodes.stdout.trim().split("\n").sort(),
    ["master-1", ...lab.workers.map((w) => w.name)].map((n) => `node/${n}`).sort(),
  );

  // The original certificate, on disk and served.
  assert.equal(
    await readFile(hostDir(lab, "master-1", "etc-kubernetes", "pki", "apiserver.crt"), "utf8"),
    orig.apiserverCrt,
  );
  const served = await lab.wsExec([
    "sh",
    "-c",
    `openssl s_client -connect ${m1}:6443 </dev/null 2>/dev/null | openssl x509 -outform PEM`,
  ]);
  assert.equal(
    served.stdout.trim(),
    orig.apiserverCrt.trim(),
    "the apiserver serves the original certificate",
  );

  // The load balancer's configuration is gone and nothing listens on its port.
  assert.ok(!existsSync(hostDir(lab, "lb", "etc-nginx", "stream.d", "kubeha-apiservers.conf")));
  const t = await lab.exec("lb", ["nginx", "-T"]);
  assert.equal(t.code, 0, t.stderr);
  assert.doesNotMatch(t.stdout + t.stderr, /kubeha_apiservers/);
  const ss = await lab.exec("lb", ["ss", "-Htln"]);
  assert.doesNotMatch(ss.stdout, /:6443\b/);

  // The new masters: nothing left in the kubelet's manifests directory, no kubelet.conf, no ports.
  for (const m of lab.masters) {
    assert.deepEqual(
      await readdir(hostDir(lab, m.name, "etc-kubernetes", "manifests")),
      [],
      `${m.name} manifests`,
    );
    assert.ok(!existsSync(hostDir(lab, m.name, "etc-kubernetes", "kubelet.conf")), `${m.name} kubelet.conf`);
    const busy = await lab.exec(m.name, ["ss", "-Htln"]);
    assert.doesNotMatch(busy.stdout, /:(2379|2380|6443|10257|10259)\b/, `${m.name} ports`);
  }
}

/** The files a rollback moved off a master: under /etc/kubernetes/tmp/kubeha-<time>/. */
async function movedAside(lab: Lab, host: string): Promise<string[]> {
  const tmp = hostDir(lab, host, "etc-kubernetes", "tmp");
  const out: string[] = [];
  for (const d of (await readdir(tmp)).filter((x) => /^kubeha-\d{8}T\d{6}Z$/.test(x)))
    out.push(...(await readdir(join(tmp, d))));
  return out.sort();
}

describe("rollback of a finished conversion", { skip }, () => {
  const shared = sharedLab({ workers: 1 });

  test("plan first, then killed at a member removal and resumed; master-1 alone, data kept; apply converts it again", async () => {
    const lab = shared();
    const orig = await original(lab);
    const applied = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile], { timeoutMs: 300_000 });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    const mark = await markAfterConversion(lab);

    const plan = await kubeha(lab, ["plan", "--rollback", "-i", lab.inventoryFile]);
    assert.equal(plan.code, 0, plan.stderr);
    for (const effect of [
      /kube-system\/kube-proxy: kubeconfig\.conf back to master-1/,
      /kube-system\/kubeadm-config: controlPlaneEndpoint and certSANs as before the conversion/,
      /-controlPlaneEndpoint: /,
      /kubelet\.conf on 1 worker back to master-1/,
      /etcd: member remove <master-3's member/,
      /etcd: member remove <master-2's member/,
      /mv \/etc\/kubernetes\/manifests\/\* \/etc\/kubernetes\/kubelet\.conf \/etc\/kubernetes\/tmp\/kubeha-\d{8}T\d{6}Z\//,
      /kubectl delete node master-2/,
      /mv \/etc\/nginx\/stream\.d\/kubeha-apiservers\.conf /,
      /put back master-1's original apiserver certificate/,
    ])
      // The plan fits 80 columns: long lines go on, indented, on the next.
      assert.match(plan.stdout.replace(/\n +/g, " "), effect);
    // Newest master out first; all clients before any member.
    assert.ok(plan.stdout.indexOf("master-3's member") < plan.stdout.indexOf("master-2's member"));
    assert.ok(plan.stdout.indexOf("on 1 worker back to master-1") < plan.stdout.indexOf("member remove"));
    const dry = await kubeha(lab, ["rollback", "--dry-run", "-i", lab.inventoryFile]);
    assert.equal(dry.code, 0, dry.stderr);
    const list = await etcdctl(lab, [lab.primary.address], "member", "list");
    assert.equal(list.stdout.trim().split("\n").length, 3, "the plan changed nothing");
    assert.ok(existsSync(hostDir(lab, "lb", "etc-nginx", "stream.d", "kubeha-apiservers.conf")));

    const args = ["rollback", "--yes", "-i", lab.inventoryFile];
    const killed = await kubehaKilledAt(
      lab,
      args,
      /\[master-3\] etcd: member \w+ \(master-3\) removed/,
      "SIGKILL",
      300_000,
    );
    assert.ok(killed.killed, killed.stdout);
    assert.equal(killed.code, 137);
    const journal = JSON.parse(await readFile(join(lab.stateDir, "journal.json"), "utf8")) as {
      runs: { finished?: string; steps: { id: string; outcome: string }[] }[];
    };
    assert.deepEqual(journal.runs.at(-1)?.steps.at(-1), {
      ...journal.runs.at(-1)!.steps.at(-1),
      id: "rollback/etcd/master-3",
      outcome: "started",
    });
    const two = await etcdctl(lab, [lab.primary.address, lab.host("master-2").address], "endpoint", "health");
    assert.equal(two.code, 0, `two healthy voters when killed: ${two.stdout}${two.stderr}`);

    const done = await kubeha(lab, args, { timeoutMs: 300_000 });
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.match(done.stdout, /rollback\/etcd\/master-3|remove master-3's etcd member.*already done/);
    assert.match(done.stdout, /all \d+ checks passed: the cluster is back to a single master/);
    await assertSingleMaster(lab, orig, mark);
    for (const m of lab.masters)
      assert.deepEqual(await movedAside(lab, m.name), [
        "etcd.yaml",
        "kube-apiserver.yaml",
        "kube-controller-manager.yaml",
        "kube-scheduler.yaml",
        "kubelet.conf",
      ]);

    const again = await kubeha(lab, args);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /nothing to do/);

    // The hosts were left clean enough for a new conversion.
    const reapply = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile], { timeoutMs: 300_000 });
    assert.equal(reapply.code, 0, reapply.stdout + reapply.stderr);
    const three = await etcdctl(lab, [lab.primary.address], "member", "list");
    assert.equal(three.stdout.trim().split("\n").length, 3, three.stdout);
  });
});

describe("rollback of a conversion killed half-way", { skip }, () => {
  const shared = sharedLab({ workers: 1 });

  test("killed with master-3 a learner (master-2's control plane maybe started): rolled back to master-1 alone", async () => {
    const lab = shared();
    const orig = await original(lab);
    const killed = await kubehaKilledAt(
      lab,
      ["apply", "--yes", "-i", lab.inventoryFile],
      /\[master-3\] etcd: learner added/,
      "SIGKILL",
      300_000,
    );
    assert.ok(killed.killed, killed.stdout);
    const list = await etcdctl(lab, [lab.primary.address], "member", "list", "-w", "json");
    const members = (JSON.parse(list.stdout) as { members: { isLearner?: boolean }[] }).members;
    assert.deepEqual(
      members.map((m) => Boolean(m.isLearner)).sort(),
      [false, false, true],
      "master-1 and master-2 voting, master-3 a learner",
    );
    const mark = await markAfterConversion(lab);
    const r = await kubeha(lab, ["rollback", "--yes", "-i", lab.inventoryFile], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The learner goes first: it does not vote.
    // (Killed right after the add, it has most likely not started: then it has no name yet.)
    const learner = /\[master-3\] etcd: member \w+ \((never started|master-3), learner\) removed/.exec(
      r.stdout,
    );
    assert.ok(learner, r.stdout);
    assert.ok(learner.index < r.stdout.indexOf("(master-2) removed"));
    await assertSingleMaster(lab, orig, mark);
    // master-2: a voter whose control plane starts while master-3's learner catches up (maybe not yet);
    // master-3: a learner whose etcd.yaml may not be written.
    const m2 = await movedAside(lab, "master-2");
    const controlPlane = ["kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"];
    assert.ok(
      m2.includes("etcd.yaml") &&
        m2.includes("kubelet.conf") &&
        m2.every((f) => ["etcd.yaml", "kubelet.conf", ...controlPlane].includes(f)),
      m2.join(", "),
    );
    const m3 = await movedAside(lab, "master-3");
    assert.ok(
      m3.includes("kubelet.conf") && m3.every((f) => ["etcd.yaml", "kubelet.conf"].includes(f)),
      m3.join(", "),
    );
  });
});
