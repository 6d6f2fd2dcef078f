// The entry point in each mode, converted and failed over in the lab with the real nginx and keepalived:
// keepalived on three LB hosts (the VIP moves when its holder is lost, and the API answers through it),
// keepalived on the three masters themselves (port 8443),
// nginx on a master on port 8443 (the seed's layout), and an external nginx the operator owns. Root only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startLab, LB_ON_MASTER_PORT, type ExecResult, type Lab } from "./lab.js";
import { kubeha, kubehaActingAt } from "./kubeha.js";
import { operatorStream } from "./external-lb.js";
import { sleep } from "./proc.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

/** A lab for one mode, with the workstation's kubectl using the primary's admin.conf once converted. */
function modeLab(options: Parameters<typeof startLab>[0]) {
  let lab: Lab | undefined;
  const L = (): Lab => {
    if (!lab) throw new Error("lab did not start");
    return lab;
  };
  before(async () => {
    lab = await startLab({ workers: 1, bulkKeys: 100, ...options });
  });
  after(async () => {
    await lab?.stop();
  });
  const run = (...args: string[]) => kubeha(L(), [...args, "-i", L().inventoryFile], { timeoutMs: 400_000 });
  const kubectl = async (...args: string[]): Promise<ExecResult> => {
    const l = L();
    const conf = join(l.dir, "admin-ws.conf");
    const r = await l.exec(l.primary.name, ["cat", "/etc/kubernetes/admin.conf"]);
    await writeFile(conf, r.stdout, { mode: 0o600 });
    return l.wsExec([
      "kubectl",
      "--kubeconfig",
      conf,
      "--request-timeout=5s",
      `--cache-dir=${join(l.dir, "kubectl-cache")}`,
      ...args,
    ]);
  };
  return { L, run, kubectl };
}

/** The LB hosts holding `address` now. */
async function holders(lab: Lab, address: string): Promise<string[]> {
  const held = await Promise.all(
    lab.lbHosts.map(async (h) => {
      const r = await lab.exec(h.name, ["ip", "-o", "addr", "show", "dev", "eth0"]);
      return r.stdout.includes(` ${address}/32 `) ? h.name : "";
    }),
  );
  return held.filter(Boolean);
}

async function within<T>(ms: number, what: string, f: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`not within ${ms / 1000}s: ${what}`);
    await sleep(200);
  }
}

/**
 * With `from` holding the address, takes its link down: the address must move to `to` within 15s and
 * real kubectl read (4 Nodes) and write through it; then the link comes back and `from`, first in
 * priority, holds the address again, alone. Returns the seconds the move took.
 */
async function holderLost(
  l: Lab,
  kubectl: (...args: string[]) => Promise<ExecResult>,
  from: string,
  to: string,
): Promise<number> {
  await within(20_000, `the address on ${from} alone`, async () => {
    const h = await holders(l, l.lbAddress);
    return h.length === 1 && h[0] === from ? true : undefined;
  });
  const down = await l.exec(from, ["ip", "link", "set", "eth0", "down"]);
  assert.equal(down.code, 0, down.stderr);
  const t0 = Date.now();
  let moved: number;
  try {
    const now = await within(15_000, `the address on ${to}`, async () => {
      const h = (await holders(l, l.lbAddress)).filter((x) => x !== from);
      return h.length === 1 ? h[0] : undefined;
    });
    moved = (Date.now() - t0) / 1000;
    assert.equal(now, to);
    const nodes = await within(20_000, "kubectl get nodes through the address", async () => {
      const r = await kubectl("get", "nodes", "-o", "name");
      return r.code === 0 ? r.stdout : undefined;
    });
    assert.equal(nodes.trim().split("\n").length, 4);
    const cm = await kubectl(
      "create",
      "configmap",
      "-n",
      "default",
      `through-the-vip-${from}`,
      "--from-literal=a=b",
    );
    assert.equal(cm.code, 0, cm.stderr);
  } finally {
    await l.exec(from, ["ip", "link", "set", "eth0", "up"]);
  }
  await within(20_000, `the address back on ${from} alone`, async () => {
    const h = await holders(l, l.lbAddress);
    return h.length === 1 && h[0] === from ? true : undefined;
  });
  return moved;
}

describe("keepalived: three LB hosts and a virtual address", { skip, timeout: 900_000 }, () => {
  const { L, run, kubectl } = modeLab({ loadBalancer: { mode: "keepalived", hosts: 3 } });

  test("plan shows the virtual address clients will use and each host's keepalived.conf", async () => {
    const l = L();
    const r = await run("plan");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    // The plan fits 80 columns: long lines go on, indented, on the next.
    const flat = r.stdout.replace(/\n +/g, " ");
    assert.match(
      flat,
      new RegExp(
        `Entry point \\(keepalived\\): clients will use https://api\\.lab\\.internal:6443 \\(${l.lbAddress.replace(/\./g, "\\.")}\\); virtual address held by one of lb-1, lb-2, lb-3`,
      ),
    );
    for (const [i, h] of l.lbHosts.entries()) {
      assert.match(
        flat,
        new RegExp(`\\[${h.name}\\] keepalived on ${h.name}: virtual address ${l.lbAddress}`),
      );
      assert.match(r.stdout, new RegExp(`\\+\\s+unicast_src_ip ${h.address}\\n`));
      assert.match(r.stdout, new RegExp(`\\+\\s+priority ${150 - 10 * i}\\n`));
    }
  });

  test("apply converts with every client on the virtual address", async () => {
    const l = L();
    const r = await run("apply", "--yes");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /✓ keepalived\/virtual-address: \S+ on lb-1 \(keepalived ready to move it to lb-2, lb-3\)/,
    );
    assert.match(r.stdout, /all \d+ checks passed: the control plane is highly available/);
    assert.match(
      await (
        await l.exec("master-1", ["cat", "/etc/kubernetes/admin.conf"])
      ).stdout,
      new RegExp(`server: https://${l.lbAddress}:6443`),
    );
    assert.deepEqual(await holders(l, l.lbAddress), ["lb-1"]);
  });

  test("the holder lost (its link down): the address moves and real kubectl works through it", async () => {
    const moved = await holderLost(L(), kubectl, "lb-1", "lb-2");
    console.log(`address moved to lb-2 ${moved.toFixed(1)}s after lb-1's link went down`);
  });

  test("verify --failover stops keepalived on the holder: the address moves within seconds, a write passes", async () => {
    const l = L();
    const r = await run("verify", "--failover");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m =
      /✓ failover: virtual address moved: \S+ moved from lb-1 to (lb-[23]) ([\d.]+)s after keepalived stopped/.exec(
        r.stdout,
      );
    assert.ok(m, r.stdout);
    assert.ok(Number(m[2]) < 10, `${m[2]}s`);
    assert.match(
      r.stdout,
      /✓ failover: write through the virtual address: ConfigMap kube-system\/\S+ created, read back and deleted/,
    );
    assert.match(r.stdout, /✓ failover: keepalived restored: keepalived runs again on lb-1/);
    assert.match(r.stdout, /all \d+ checks passed: the control plane is highly available/);
    // Back as it was: keepalived runs on every LB host, one address holder.
    for (const h of l.lbHosts)
      assert.equal(
        (await l.exec(h.name, ["systemctl", "is-active", "--quiet", "keepalived"])).code,
        0,
        h.name,
      );
    await within(20_000, "one holder", async () =>
      (await holders(l, l.lbAddress)).length === 1 ? true : undefined,
    );
  });
});

describe("keepalived on the masters themselves, on port 8443", { skip, timeout: 900_000 }, () => {
  const { L, run, kubectl } = modeLab({ loadBalancer: { mode: "keepalived", onMasters: true } });

  test("plan: clients will use the virtual address on port 8443, keepalived on each master", async () => {
    const l = L();
    const r = await run("plan");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const flat = r.stdout.replace(/\n +/g, " ");
    assert.match(
      flat,
      new RegExp(
        `Entry point \\(keepalived\\): clients will use https://api\\.lab\\.internal:${LB_ON_MASTER_PORT} \\(${l.lbAddress.replace(/\./g, "\\.")}\\); virtual address held by one of master-1, master-2, master-3`,
      ),
    );
    for (const h of l.lbHosts) {
      assert.match(
        flat,
        new RegExp(`\\[${h.name}\\] keepalived on ${h.name}: virtual address ${l.lbAddress}`),
      );
      assert.match(r.stdout, new RegExp(`\\+\\s+unicast_src_ip ${h.address}\\n`));
    }
  });

  test("apply converts with every client on the virtual address's port 8443, read and write", async () => {
    const l = L();
    const r = await run("apply", "--yes");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /✓ keepalived\/virtual-address: \S+ on master-1 \(keepalived ready to move it to master-2, master-3\)/,
    );
    assert.match(r.stdout, /all \d+ checks passed: the control plane is highly available/);
    const conf = (await l.exec("master-1", ["cat", "/etc/kubernetes/admin.conf"])).stdout;
    assert.match(conf, new RegExp(`server: https://${l.lbAddress}:${LB_ON_MASTER_PORT}`));
    assert.deepEqual(await holders(l, l.lbAddress), ["master-1"]);
    const nodes = await kubectl("get", "nodes", "-o", "name");
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(nodes.stdout.trim().split("\n").length, 4);
    const cm = await kubectl("create", "configmap", "-n", "default", "on-masters", "--from-literal=a=b");
    assert.equal(cm.code, 0, cm.stderr);
  });

  test("verify --failover stops keepalived on master-1: the address moves to another master, a write passes", async () => {
    const l = L();
    const r = await run("verify", "--failover");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const m =
      /✓ failover: virtual address moved: \S+ moved from master-1 to (master-[23]) ([\d.]+)s after keepalived stopped/.exec(
        r.stdout,
      );
    assert.ok(m, r.stdout);
    assert.ok(Number(m[2]) < 10, `${m[2]}s`);
    console.log(`address moved from master-1 to ${m[1]} ${m[2]}s after keepalived stopped`);
    assert.match(
      r.stdout,
      /✓ failover: write through the virtual address: ConfigMap kube-system\/\S+ created, read back and deleted/,
    );
    assert.match(r.stdout, /all \d+ checks passed: the control plane is highly available/);
    await within(20_000, "one holder", async () =>
      (await holders(l, l.lbAddress)).length === 1 ? true : undefined,
    );
  });

  test("master-1 lost (its link down), apiserver and LB at once: the address moves, kubectl works through it", async () => {
    const moved = await holderLost(L(), kubectl, "master-1", "master-2");
    console.log(`address moved to master-2 ${moved.toFixed(1)}s after master-1's link went down`);
  });
});

describe("nginx on a master, on port 8443 (the seed's layout)", { skip, timeout: 900_000 }, () => {
  const { L, run, kubectl } = modeLab({ loadBalancer: { onMaster: true } });

  test("apply warns that the entry point shares master-1's fate, converts, and clients use master-1:8443", async () => {
    const l = L();
    const inv = await readFile(l.inventoryFile, "utf8");
    assert.match(inv, new RegExp(`loadBalancer:\\n  name: master-1\\n  address: ${l.primary.address}`));
    const r = await run("apply", "--yes");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(
      r.stderr + r.stdout,
      /loadBalancer: the entry point runs on master master-1: it shares that master's fate/,
    );
    assert.match(
      r.stdout.replace(/\n +/g, " "),
      /WARNING: nginx runs on master master-1: the entry point shares its fate/,
    );
    const server = `https://${l.primary.address}:${LB_ON_MASTER_PORT}`;
    for (const m of ["master-1", "master-2", "master-3"])
      assert.match(
        r.stdout,
        new RegExp(`✓ clients/kubeconfigs/${m}: admin.conf and kubelet.conf → ${server};`),
      );
    const nodes = await kubectl("get", "nodes", "-o", "name");
    assert.equal(nodes.code, 0, nodes.stderr);
    const t = await l.exec("master-1", ["nginx", "-T"]);
    assert.match(t.stdout, new RegExp(`listen ${LB_ON_MASTER_PORT};`));
  });

  test("verify --failover passes the masters' failover and says the entry point is a single point of failure", async () => {
    const r = await run("verify", "--failover");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✓ failover: write through the LB/);
    assert.match(
      r.stdout,
      /! failover: entry point: not tested: nginx on master-1 is the only way in, a single point of failure: .*master-1 is a master/,
    );
    assert.match(
      r.stdout,
      /all \d+ checks passed, but not everything is highly available: see failover: entry point/,
    );
  });
});

describe("external: the operator's own nginx", { skip, timeout: 900_000 }, () => {
  const { L, run, kubectl } = modeLab({ loadBalancer: { mode: "external" } });

  test("an LB that does not reach the primary is refused before any change", async () => {
    const l = L();
    const cert = (await l.exec("master-1", ["cat", "/etc/kubernetes/pki/apiserver.crt"])).stdout;
    await operatorStream(l.exec, "lb", [l.masters[0]!.address]);
    const r = await run("apply", "--yes");
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `loadBalancer: the external load balancer ${l.lbAddress}:6443 does not forward to master-1's apiserver`,
      ),
    );
    assert.equal((await l.exec("master-1", ["cat", "/etc/kubernetes/pki/apiserver.crt"])).stdout, cert);
    await operatorStream(l.exec, "lb", [l.primary.address]);
  });

  test("apply names the backends to add and waits until the operator adds them", async () => {
    const l = L();
    const r = await kubehaActingAt(
      l,
      ["apply", "--yes", "-i", l.inventoryFile],
      /add master-2, master-3 to your load balancer/,
      () =>
        operatorStream(
          l.exec,
          "lb",
          [l.primary, ...l.masters].map((m) => m.address),
        ),
      400_000,
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.ok(r.acted, r.stdout + r.stderr);
    assert.match(
      r.stdout + r.stderr,
      new RegExp(
        `backends: ${l.primary.address}:6443 \\(master-1\\), ${l.masters[0]!.address}:6443 \\(master-2\\)`,
      ),
    );
    assert.match(r.stdout, /your load balancer \S+ reaches every apiserver: done/);
    const nodes = await kubectl("get", "nodes", "-o", "name");
    assert.equal(nodes.code, 0, nodes.stderr);
    // kubeha never wrote its own nginx configuration on the operator's LB.
    assert.notEqual(
      (await l.exec("lb", ["test", "-e", "/etc/nginx/stream.d/kubeha-apiservers.conf"])).code,
      0,
    );
  });

  test("verify --failover says the external LB is the operator's to make available", async () => {
    const r = await run("verify", "--failover");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✓ LB reaches every apiserver: 3 apiservers seen/);
    assert.match(
      r.stdout,
      /! failover: entry point: not tested: \S+ is your load balancer, which kubeha does not stop/,
    );
  });
});
