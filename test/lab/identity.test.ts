// Host identity against the lab: one machine entered twice (under a second name, at a second
// address of the same host) and node names at the wrong machine are refused before any change.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { hostEntry, inventoryVariant, kubeha, type InventoryYaml } from "./kubeha.js";
import { must } from "./proc.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

interface DiscoverJson {
  identities: { name: string; machineId?: string; hostKey?: string; hostname?: string }[];
  findings: { severity: string; host: string; message: string }[];
}

/** Two entries trade machines: address and SSH settings (each machine's own user and sudo). */
function swap(inv: InventoryYaml, a: string, b: string): void {
  const [x, y] = [hostEntry(inv, a), hostEntry(inv, b)];
  [x.address, y.address] = [y.address, x.address];
  [x.ssh, y.ssh] = [y.ssh, x.ssh];
}

const sha = async (path: string) =>
  createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
const re = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

describe("host identity: one machine entered twice, names at the wrong machine", { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ workers: 2 });
  });
  after(async () => {
    await lab?.stop();
  });

  test("the lab's own inventory: every host its own machine, every name its machine's", async () => {
    const r = await kubeha(lab, ["discover", "-i", lab.inventoryFile, "--output", "json"]);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(r.stdout) as DiscoverJson;
    assert.deepEqual(d.identities.map((i) => i.name).sort(), lab.hosts.map((h) => h.name).sort());
    for (const field of ["machineId", "hostKey"] as const) {
      const values = d.identities.map((i) => i[field]);
      assert.ok(
        values.every((v) => v),
        `${field} read from every host: ${JSON.stringify(d.identities)}`,
      );
      assert.equal(new Set(values).size, values.length, `${field} distinct: ${values.join(" ")}`);
    }
    assert.deepEqual(
      d.identities.map((i) => [i.name, i.hostname]),
      d.identities.map((i) => [i.name, i.name]),
    );
    assert.deepEqual(
      d.findings.filter((f) => f.severity === "error"),
      [],
    );
  });

  test("a worker entered again under a second name and address is refused, nothing changed", async () => {
    const w1 = lab.host("worker-1");
    const second = w1.address.replace(/\.\d+$/, ".131");
    const add = await lab.exec("worker-1", ["ip", "addr", "add", `${second}/24`, "dev", "eth0"]);
    assert.equal(add.code, 0, add.stderr);
    // The second address is not in known_hosts: pin worker-1's key, as an operator would after checking it.
    const fp = (await must(["ssh-keygen", "-lf", join(w1.dir, "ssh", "ssh_host_ed25519_key.pub")])).split(
      /\s+/,
    )[1];
    const inv = await inventoryVariant(lab, "twice", (i) => {
      const w = hostEntry(i, "worker-1");
      i.workers.push({
        ...w,
        name: "worker-9",
        address: second,
        ssh: { ...(w.ssh ?? {}), hostKeyFingerprint: fp },
      });
    });
    const kubeletConf = join(w1.dir, "etc-kubernetes", "kubelet.conf");
    const before = await sha(kubeletConf);
    const said = new RegExp(
      `worker-9 \\(${re(second)}\\) and worker-1 \\(${re(w1.address)}\\) are one machine: ` +
        `the same /etc/machine-id [0-9a-f]{32} and the same SSH host key ${re(fp!)}`,
    );

    const d = await kubeha(lab, ["discover", "-i", inv]);
    assert.equal(d.code, 2, d.stderr);
    assert.match(d.stdout, said);

    const a = await kubeha(lab, ["apply", "--yes", "-i", inv]);
    assert.equal(a.code, 2, a.stdout + a.stderr);
    assert.match(a.stderr, /preflight refused/);
    assert.match(a.stderr, said);
    assert.equal(await sha(kubeletConf), before, "worker-1's kubelet.conf unchanged");
    assert.deepEqual(readdirSync(join(lab.host("master-2").dir, "etc-kubernetes", "manifests")), []);
    assert.equal(existsSync(join(lab.stateDir, "backups")), false, "no backup: nothing was begun");
  });

  test("two new masters' addresses swapped are refused, naming the hostname", async () => {
    const [m2, m3] = [lab.host("master-2"), lab.host("master-3")];
    const inv = await inventoryVariant(lab, "masters-swapped", (i) => swap(i, "master-2", "master-3"));
    const r = await kubeha(lab, ["plan", "-i", inv]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `master-2 \\(${re(m3.address)}\\): the host's hostname is "master-3": its kubelet would register the Node "master-3", but kubeha issues its certificates for "master-2"`,
      ),
    );
    assert.match(r.stderr, /hostnamectl set-hostname master-2/);
    assert.match(r.stderr, new RegExp(`master-3 \\(${re(m2.address)}\\): the host's hostname is "master-2"`));
  });

  test("two workers' addresses swapped are refused, naming the Node's InternalIP and the address", async () => {
    const [w1, w2] = [lab.host("worker-1"), lab.host("worker-2")];
    const inv = await inventoryVariant(lab, "workers-swapped", (i) => swap(i, "worker-1", "worker-2"));
    const r = await kubeha(lab, ["plan", "-i", inv]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `worker-1 \\(${re(w2.address)}\\): the cluster's Node "worker-1" has InternalIP ${re(w1.address)} and hostname worker-1, not this host \\(addresses ${re(w2.address)}, hostname worker-2\\); the Node at this address is "worker-2"`,
      ),
    );
  });
});
