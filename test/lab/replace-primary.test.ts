// `kubeha replace` of the primary after the conversion: master-1 dies (its network link goes down, as a
// dead machine's would), the inventory names master-2 as the primary and the spare master-4 in its old
// place, and master-1 is replaced. Nothing may depend on master-1 afterwards: checked with etcdctl,
// kubectl, nginx -T and the hosts' files, not with kubeha's code.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Lab } from "./lab.js";
import { sharedLab } from "./shared-lab.js";
import { inventoryVariant, kubeha } from "./kubeha.js";
import { equalHashes, etcdctl } from "./etcdctl.js";
import { kubectlVia, nodeNames, upstreams, voters } from "./control-plane-checks.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

/** The keys of the objects no controller makes or deletes on its own here: ConfigMaps and Secrets. */
async function objectKeys(lab: Lab, via: string): Promise<string[]> {
  const out: string[] = [];
  for (const prefix of ["/registry/configmaps/", "/registry/secrets/"]) {
    const r = await etcdctl(lab, [lab.host(via).address], "get", prefix, "--prefix", "--keys-only");
    assert.equal(r.code, 0, r.stderr);
    out.push(...r.stdout.split("\n").filter((l) => l.startsWith(prefix)));
  }
  return out.sort();
}

describe("replace the primary after the conversion", { skip }, () => {
  const shared = sharedLab({ workers: 1, spares: 1 });

  test("master-1 down: refused while it is the inventory's primary; then master-2 primary, master-4 in", async (t) => {
    const lab = shared();
    const applied = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile], { timeoutMs: 300_000 });
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    const keysBefore = await objectKeys(lab, "master-2");
    assert.ok(keysBefore.length > 100, `${keysBefore.length} keys`);

    const old = lab.primary.address;
    const down = await lab.exec("master-1", ["ip", "link", "set", "eth0", "down"]);
    assert.equal(down.code, 0, down.stderr);

    const asIs = await kubeha(lab, [
      "replace",
      "master-1",
      "--with",
      "master-4",
      "--yes",
      "-i",
      lab.inventoryFile,
    ]);
    assert.equal(asIs.code, 2, asIs.stdout + asIs.stderr);
    assert.match(
      asIs.stderr,
      /master-1 is the inventory's primary: name master-2 or master-3 as the primary/,
    );

    const spare = lab.host("master-4");
    const inv = await inventoryVariant(lab, "primary-replaced", (i) => {
      const m2 = i.masters.find((m: { name: string }) => m.name === "master-2");
      i.primary = m2;
      i.masters = [
        ...i.masters.filter((m: { name: string }) => m.name !== "master-2"),
        { name: spare.name, address: spare.address },
      ];
    });
    const r = await kubeha(lab, ["replace", "master-1", "--with", "master-4", "--yes", "-i", inv], {
      timeoutMs: 500_000,
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /checks passed: the control plane is highly available/);
    assert.match(r.stdout + r.stderr, /master-1 \([\d.]+\) cannot be reached/);
    t.diagnostic(`replace took ${(r.ms / 1000).toFixed(1)} s`);

    const three = ["master-2", "master-3", "master-4"];
    assert.deepEqual(await voters(lab, "master-2"), three);
    await equalHashes(lab, three);
    const keysAfter = await objectKeys(lab, "master-4");
    assert.deepEqual(keysAfter, keysBefore, "master-4 holds every ConfigMap and Secret, none lost");
    assert.deepEqual(await nodeNames(lab, "master-4"), [...three, "worker-1"]);
    assert.deepEqual(await upstreams(lab), three);

    // No kubeconfig on a remaining host and no kubeadm ConfigMap names master-1's address any more.
    const names = new RegExp(`(^|[^\\d.])${old.replace(/\./g, "\\.")}(?![\\d])`);
    for (const h of [...three, "worker-1", "lb"]) {
      const dir = join(lab.dir, "h", h, "etc-kubernetes");
      const confs = (await readdir(dir).catch(() => [] as string[])).filter((f) => f.endsWith(".conf"));
      if (h !== "lb") assert.ok(confs.includes("kubelet.conf"), `${h}: ${confs.join(", ")}`);
      for (const f of confs)
        assert.doesNotMatch(await readFile(join(dir, f), "utf8"), names, `${h}:/etc/kubernetes/${f}`);
    }
    // Nor a static pod, but for etcd's --initial-cluster, which etcd reads only at a member's first start.
    for (const h of three) {
      const dir = join(lab.dir, "h", h, "etc-kubernetes", "manifests");
      const files = await readdir(dir);
      assert.equal(files.length, 4, `${h}: ${files.join(", ")}`);
      for (const f of files) {
        const text = await readFile(join(dir, f), "utf8");
        const lines = text.split("\n").filter((l) => names.test(l));
        assert.deepEqual(
          lines.filter((l) => !/--initial-cluster=/.test(l)),
          [],
          `${h}:/etc/kubernetes/manifests/${f}`,
        );
      }
    }
    for (const [ns, cm] of [
      ["kube-system", "kubeadm-config"],
      ["kube-public", "cluster-info"],
      ["kube-system", "kube-proxy"],
    ]) {
      const c = await kubectlVia(lab, "master-4", "-n", ns!, "get", "cm", cm!, "-o", "jsonpath={.data}");
      assert.equal(c.code, 0, c.stderr);
      assert.doesNotMatch(c.stdout, names, `${ns}/${cm}`);
    }

    const verify = await kubeha(lab, ["verify", "-i", inv], { timeoutMs: 300_000 });
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
    const again = await kubeha(lab, ["apply", "--yes", "-i", inv], { timeoutMs: 300_000 });
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /nothing to do/);
  });
});
