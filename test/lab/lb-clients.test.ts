// The load balancer and the clients moved to it, checked after a whole `apply` on a lab with ten
// workers: a broken nginx stops the run before any change; one unreachable worker is named at the end
// without stopping the others; real kubectl works through nginx, also with a master's apiserver
// stopped; verify --failover passes and leaves the cluster as it found it. Root only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { startLab, type ExecResult, type Lab } from "./lab.js";
import { REPO } from "./hosts.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

const WORKERS = 10;
const CONCURRENCY = 3;
const DOWN = "worker-7";

/** Max number of workers between "kubelet: restarting" and "Ready again", from the run's output. */
export function maxInFlight(output: string): { max: number; rolled: string[] } {
  const inFlight = new Set<string>();
  const rolled: string[] = [];
  let max = 0;
  for (const line of output.split("\n")) {
    const m = /\[(worker-\d+)\] kubelet: (restarting|Ready again)/.exec(line);
    if (!m) continue;
    if (m[2] === "restarting") inFlight.add(m[1]!);
    else {
      inFlight.delete(m[1]!);
      rolled.push(m[1]!);
    }
    max = Math.max(max, inFlight.size);
  }
  return { max, rolled };
}

describe("load balancer and clients", { skip, timeout: 600_000 }, () => {
  let lab: Lab | undefined;
  const L = (): Lab => {
    if (!lab) throw new Error("lab did not start");
    return lab;
  };
  const kubeha = (...args: string[]): Promise<ExecResult> =>
    L().wsExec(["node", join(REPO, "dist/src/cli.js"), ...args, "-i", L().inventoryFile, "--no-color"]);
  const cat = async (host: string, path: string): Promise<string> => {
    const r = await L().exec(host, ["cat", path]);
    assert.equal(r.code, 0, `${host}:${path}: ${r.stderr}`);
    return r.stdout;
  };
  const lbUrl = (): string => `https://${L().lb.address}:6443`;
  let adminConf = "";
  const kubectl = (...args: string[]): Promise<ExecResult> =>
    L().wsExec([
      "kubectl",
      "--kubeconfig",
      adminConf,
      "--request-timeout=10s",
      `--cache-dir=${join(L().dir, "kubectl-cache-lb")}`,
      ...args,
    ]);
  const outputs: Record<string, ExecResult> = {};

  before(async () => {
    lab = await startLab({ workers: WORKERS, bulkKeys: 200 });
    const inv = parse(await readFile(lab.inventoryFile, "utf8")) as { options: Record<string, unknown> };
    inv.options.workerConcurrency = CONCURRENCY;
    await writeFile(lab.inventoryFile, stringify(inv));
  });
  after(async () => {
    await lab?.stop();
  });

  test("a broken nginx configuration is left as it was and the run stops before any other change", async () => {
    const l = L();
    const nginxConf = await cat("lb", "/etc/nginx/nginx.conf");
    const cert = await cat("master-1", "/etc/kubernetes/pki/apiserver.crt");
    await l.exec("lb", ["sh", "-c", "echo 'this is not nginx' > /etc/nginx/conf.d/zz-broken.conf"]);
    const r = await kubeha("apply", "--yes");
    outputs.broken = r;
    // Found by preflight (nginx -T), so refused before the backup as bad input.
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /lb: nginx's current configuration fails its own test \(nginx -T: \[emerg\] .* in \/etc\/nginx\/conf\.d\/zz-broken\.conf:\d+\)/,
    );
    assert.equal(await cat("lb", "/etc/nginx/nginx.conf"), nginxConf);
    assert.notEqual(
      (await l.exec("lb", ["test", "-e", "/etc/nginx/stream.d/kubeha-apiservers.conf"])).code,
      0,
    );
    assert.equal(await cat("master-1", "/etc/kubernetes/pki/apiserver.crt"), cert);
    assert.equal((await l.exec("master-2", ["ls", "-A", "/etc/kubernetes/manifests"])).stdout.trim(), "");
    await l.exec("lb", ["rm", "-f", "/etc/nginx/conf.d/zz-broken.conf"]);
  });

  test(`apply: workers rolled ${CONCURRENCY} at a time; unreachable ${DOWN} named at the end, the rest done`, async () => {
    const l = L();
    const down = await l.exec(DOWN, ["ip", "link", "set", "eth0", "down"]);
    assert.equal(down.code, 0, down.stderr);
    const t0 = Date.now();
    const r = await kubeha("apply", "--yes");
    outputs.first = r;
    const secs = (Date.now() - t0) / 1000;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`1 worker not moved to https://[\\d.]+:6443: ${DOWN} \\(`));
    const { max, rolled } = maxInFlight(r.stdout);
    assert.equal(rolled.length, WORKERS - 1, r.stdout);
    assert.ok(max <= CONCURRENCY && max >= 2, `max ${max} kubelets restarting at once`);
    for (const w of l.workers.filter((x) => x.name !== DOWN)) {
      assert.match(await cat(w.name, "/etc/kubernetes/kubelet.conf"), new RegExp(`server: ${lbUrl()}`));
    }
    console.log(`first apply ${secs.toFixed(1)}s, at most ${max} workers at once`);
    await l.exec(DOWN, ["ip", "link", "set", "eth0", "up"]);
    const again = await kubeha("apply", "--yes");
    outputs.second = again;
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.deepEqual(maxInFlight(again.stdout).rolled, [DOWN]);
    assert.match(again.stdout, /all \d+ checks passed/);
  });

  test("real kubectl from the workstation works through nginx with the new admin.conf", async () => {
    const l = L();
    const text = await cat("master-1", "/etc/kubernetes/admin.conf");
    assert.match(text, new RegExp(`server: ${lbUrl()}`));
    adminConf = join(l.dir, "admin-lb.conf");
    await writeFile(adminConf, text, { mode: 0o600 });
    const nodes = await kubectl("get", "nodes", "-o", "name");
    assert.equal(nodes.code, 0, nodes.stderr);
    assert.equal(nodes.stdout.trim().split("\n").length, 3 + WORKERS);
    const t = await l.exec("lb", ["nginx", "-T"]);
    assert.match(t.stdout, /upstream kubeha_apiservers \{/);
    for (const m of [l.primary, ...l.masters])
      assert.match(t.stdout, new RegExp(`server ${m.address}:6443 max_fails=`));
    assert.match(t.stdout, /proxy_timeout 10m;/);
  });

  test("ConfigMaps and every node's kubelet.conf point at the LB; new masters labelled and tainted", async () => {
    const l = L();
    const cm = async (ns: string, name: string, key: string): Promise<string> => {
      const r = await kubectl("get", "configmap", "-n", ns, name, "-o", "json");
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { data: Record<string, string> }).data[key] ?? "";
    };
    assert.match(await cm("kube-system", "kube-proxy", "kubeconfig.conf"), new RegExp(`server: ${lbUrl()}`));
    assert.match(await cm("kube-public", "cluster-info", "kubeconfig"), new RegExp(`server: ${lbUrl()}`));
    const cc = await cm("kube-system", "kubeadm-config", "ClusterConfiguration");
    assert.match(cc, new RegExp(`controlPlaneEndpoint: ${l.lb.address}:6443`));
    assert.match(cc, new RegExp(`- ${l.lbDnsName}`));
    for (const h of [l.primary, ...l.masters, ...l.workers]) {
      assert.match(
        await cat(h.name, "/etc/kubernetes/kubelet.conf"),
        new RegExp(`server: ${lbUrl()}`),
        h.name,
      );
    }
    for (const m of l.masters) {
      const r = await kubectl("get", "node", m.name, "-o", "json");
      const node = JSON.parse(r.stdout) as {
        metadata: { labels: Record<string, string> };
        spec: { taints?: { key: string; effect: string }[] };
      };
      assert.equal(node.metadata.labels["node-role.kubernetes.io/control-plane"], "");
      assert.ok(
        node.spec.taints?.some(
          (t) => t.key === "node-role.kubernetes.io/control-plane" && t.effect === "NoSchedule",
        ),
        `${m.name} taints: ${JSON.stringify(node.spec.taints)}`,
      );
    }
  });

  test("with one master's apiserver stopped, kubectl through the LB still works", async () => {
    const l = L();
    const m = "master-2";
    const aside = "/etc/kubernetes/kube-apiserver.yaml.aside";
    assert.equal((await l.exec(m, ["mv", "/etc/kubernetes/manifests/kube-apiserver.yaml", aside])).code, 0);
    try {
      const deadline = Date.now() + 60_000;
      for (;;) {
        const ss = await l.exec(m, ["ss", "-Htln", "sport = :6443"]);
        if (ss.stdout.trim() === "") break;
        assert.ok(Date.now() < deadline, `${m}'s apiserver still listens after 60s`);
        await new Promise((r) => setTimeout(r, 300));
      }
      for (let i = 0; i < 6; i++) {
        const r = await kubectl("get", "configmap", "-n", "kube-system", "kube-proxy", "-o", "name");
        assert.equal(r.code, 0, `attempt ${i}: ${r.stderr}`);
      }
    } finally {
      await l.exec(m, ["mv", aside, "/etc/kubernetes/manifests/kube-apiserver.yaml"]);
    }
    const r = await kubeha("verify");
    assert.equal(r.code, 0, r.stdout + r.stderr);
  });

  test("verify --failover passes and leaves the cluster as it found it", async () => {
    const l = L();
    const manifests = async (): Promise<string> =>
      (await l.exec("master-1", ["ls", "/etc/kubernetes/manifests"])).stdout;
    const before = await manifests();
    const r = await kubeha("verify", "--failover");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /failover: write through the LB/);
    assert.match(r.stdout, /failover: etcd leader: leader/);
    assert.match(r.stdout, /failover: restored/);
    console.log(
      r.stdout
        .split("\n")
        .filter((x) => x.includes("failover"))
        .join("\n"),
    );
    assert.equal(await manifests(), before);
    const cms = await kubectl("get", "configmap", "-n", "kube-system", "-o", "name");
    assert.doesNotMatch(cms.stdout, /kubeha-failover/);
    const again = await kubeha("verify");
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });
});
