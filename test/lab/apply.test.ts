// `kubeha plan` and `kubeha apply` against the lab's single-master cluster, checked with the real
// clients (etcdctl, kubectl), not with kubeha's own code: the conversion, a repeat that changes
// nothing, runs killed at several points and resumed, and a new member whose etcd cannot start.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { inventoryVariant, kubeha, kubehaKilledAt } from "./kubeha.js";
import { DUPLICATE_POD_ERROR } from "./kubelet-pods.js";
import { etcdctl } from "./etcdctl.js";
import { stateAtKill } from "./kill-state.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

/** Every file (path, mode, content hash) under each host's /etc/kubernetes and the LB's /etc/nginx. */
async function trees(lab: Lab): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (root: string, dir: string): Promise<void> => {
    for (const e of await readdir(join(root, dir), { withFileTypes: true })) {
      const rel = join(dir, e.name);
      if (e.isDirectory()) await walk(root, rel);
      else if (e.isFile()) {
        const path = join(root, rel);
        const s = await stat(path);
        out.set(
          path,
          `${(s.mode & 0o7777).toString(8)} ${createHash("sha256")
            .update(await readFile(path))
            .digest("hex")}`,
        );
      }
    }
  };
  for (const h of lab.hosts) await walk(join(lab.dir, "h", h.name, "etc-kubernetes"), "");
  await walk(join(lab.dir, "h", "lb", "etc-nginx"), "");
  return out;
}

/** A piece of every private key the primary holds, as PEM body and as kubeconfig base64. */
async function secretsOf(lab: Lab): Promise<[string, string][]> {
  const out: [string, string][] = [];
  const root = join(lab.dir, "h", "master-1", "etc-kubernetes");
  const keys = [
    "ca.key",
    "front-proxy-ca.key",
    "etcd/ca.key",
    "sa.key",
    "apiserver.key",
    "apiserver-etcd-client.key",
    "etcd/server.key",
    "etcd/peer.key",
    "etcd/healthcheck-client.key",
    "front-proxy-client.key",
    "apiserver-kubelet-client.key",
  ];
  for (const k of keys) {
    const pem = await readFile(join(root, "pki", k), "utf8");
    const body = pem
      .split("\n")
      .filter((l) => l && !l.startsWith("-----"))
      .join("");
    out.push([k, body.slice(100, 160)]);
    out.push([`${k} as base64`, Buffer.from(pem).toString("base64").slice(100, 160)]);
  }
  for (const conf of ["admin.conf", "controller-manager.conf"]) {
    const m = /client-key-data: (\S+)/.exec(await readFile(join(root, conf), "utf8"));
    if (m) out.push([`${conf} client-key-data`, m[1]!.slice(100, 160)]);
  }
  return out;
}

/** `kubectl get -o json` through the primary, as the workstation's admin. */
async function kubectlJson<T>(lab: Lab, ...args: string[]): Promise<T> {
  const r = await lab.wsExec(["kubectl", "--kubeconfig", lab.adminKubeconfig, "get", ...args, "-o", "json"]);
  assert.equal(r.code, 0, `kubectl get ${args.join(" ")}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface ApiObject {
  metadata: { name: string; resourceVersion?: string; generation?: number; labels?: object };
  data?: object;
  spec?: { taints?: object[]; template?: { metadata?: { annotations?: object } } };
}

/**
 * Everything kubeha may change, beyond files: etcd's members, the API objects it edits (the ConfigMaps
 * with their resourceVersions, kube-proxy's pod template, every Node's labels and taints; a Node's own
 * resourceVersion moves with each kubelet heartbeat) and the LB's nginx (its full configuration as
 * loaded, and the master's PID: a reload or restart would show). Equal before and after means the
 * command changed nothing anywhere.
 */
async function clusterState(lab: Lab): Promise<Record<string, unknown>> {
  const list = await etcdctl(lab, [lab.primary.address], "member", "list", "-w", "json");
  assert.equal(list.code, 0, list.stderr);
  const members = (
    JSON.parse(list.stdout) as {
      members: {
        ID: number;
        name?: string;
        peerURLs?: string[];
        clientURLs?: string[];
        isLearner?: boolean;
      }[];
    }
  ).members
    .map((m) => ({ ...m, ID: String(m.ID) }))
    .sort((a, b) => a.ID.localeCompare(b.ID));
  const configMaps = await Promise.all(
    [
      ["kube-system", "kubeadm-config"],
      ["kube-public", "cluster-info"],
      ["kube-system", "kube-proxy"],
    ].map(async ([ns, name]) => {
      const o = await kubectlJson<ApiObject>(lab, "configmap", name!, "-n", ns!);
      return { name: `${ns}/${name}`, resourceVersion: o.metadata.resourceVersion, data: o.data };
    }),
  );
  const ds = await kubectlJson<ApiObject>(lab, "daemonset", "kube-proxy", "-n", "kube-system");
  const nodes = (await kubectlJson<{ items: ApiObject[] }>(lab, "nodes")).items
    .map((n) => ({ name: n.metadata.name, labels: n.metadata.labels, taints: n.spec?.taints }))
    .sort((a, b) => a.name.localeCompare(b.name));
  const nginx = await lab.exec("lb", ["sh", "-c", "cat /run/nginx.pid && nginx -T 2>&1"]);
  assert.equal(nginx.code, 0, `nginx -T on the LB: ${nginx.stdout}${nginx.stderr}`);
  return {
    files: Object.fromEntries(await trees(lab)),
    etcdMembers: members,
    configMaps,
    kubeProxy: {
      generation: ds.metadata.generation,
      annotations: ds.spec?.template?.metadata?.annotations,
    },
    nodes,
    nginx: nginx.stdout,
  };
}

const hostDir = (lab: Lab, name: string, ...rel: string[]) => join(lab.dir, "h", name, ...rel);

/**
 * Each master's static pod directory holds its four manifests and nothing else (the kubelet runs every
 * non-hidden file there), and its kubelet stand-in never saw one pod defined by two files.
 */
async function assertManifestsClean(lab: Lab): Promise<void> {
  for (const m of [lab.primary, ...lab.masters]) {
    assert.deepEqual(
      (await readdir(hostDir(lab, m.name, "etc-kubernetes", "manifests"))).sort(),
      ["etcd.yaml", "kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"],
      `${m.name}:/etc/kubernetes/manifests`,
    );
    const log = await readFile(hostDir(lab, m.name, "kubelet.log"), "utf8");
    const dup = log.split("\n").find((l) => l.includes(DUPLICATE_POD_ERROR));
    assert.equal(dup, undefined, `${m.name}'s kubelet stand-in: ${dup}`);
  }
}

/** The one manifest backup of `file` kept under a host's /etc/kubernetes/tmp/kubeha-<time>/. */
async function manifestBackup(
  lab: Lab,
  host: string,
  file: string,
): Promise<{ path: string; text: string; mode: number }> {
  const tmp = hostDir(lab, host, "etc-kubernetes", "tmp");
  const dirs = (await readdir(tmp)).filter((d) => /^kubeha-\d{8}T\d{6}Z$/.test(d));
  const found = [];
  for (const d of dirs) if ((await readdir(join(tmp, d))).includes(file)) found.push(join(tmp, d, file));
  assert.equal(found.length, 1, `${host}: backups of ${file} under /etc/kubernetes/tmp: ${found.join(", ")}`);
  const path = found[0]!;
  return { path, text: await readFile(path, "utf8"), mode: (await stat(path)).mode & 0o7777 };
}

/** The end state, seen by etcdctl and kubectl: three started voters, equal hashes, all data everywhere. */
async function assertHighlyAvailable(lab: Lab): Promise<void> {
  await assertManifestsClean(lab);
  const addresses = [lab.primary, ...lab.masters].map((m) => m.address);
  const list = await etcdctl(lab, [lab.primary.address], "member", "list", "-w", "json");
  assert.equal(list.code, 0, list.stderr);
  const members = (JSON.parse(list.stdout) as { members: { name?: string; isLearner?: boolean }[] }).members;
  assert.deepEqual(members.map((m) => m.name).sort(), ["master-1", "master-2", "master-3"]);
  assert.ok(
    members.every((m) => !m.isLearner),
    "no learner left",
  );
  // Kubelets keep writing: hash every member at one revision they all have.
  const status = await etcdctl(lab, addresses, "endpoint", "status", "-w", "json");
  assert.equal(status.code, 0, status.stderr);
  const rev = Math.min(
    ...(JSON.parse(status.stdout) as { Status: { header: { revision: number } } }[]).map(
      (x) => x.Status.header.revision,
    ),
  );
  const hashes = await etcdctl(lab, addresses, "endpoint", "hashkv", `--rev=${rev}`, "-w", "json");
  assert.equal(hashes.code, 0, hashes.stderr);
  const values = (JSON.parse(hashes.stdout) as { HashKV: { hash: number } }[]).map((h) => h.HashKV.hash);
  assert.equal(values.length, 3);
  assert.equal(new Set(values).size, 1, `hashkv differs: ${values.join(", ")}`);
  for (const a of addresses) {
    const keys = await etcdctl(lab, [a], "get", "/registry/", "--prefix", "--keys-only", "--consistency=s");
    const count = keys.stdout.split("\n").filter((l) => l.startsWith("/registry/")).length;
    assert.ok(
      count >= lab.fixture.filledKeys,
      `${a} holds ${count} keys, expected ${lab.fixture.filledKeys}+`,
    );
  }
  for (const m of lab.masters) {
    const r = await lab.wsExec([
      "kubectl",
      "--kubeconfig",
      lab.adminKubeconfig,
      "--server",
      `https://${m.address}:6443`,
      "get",
      "configmap",
      "kube-proxy",
      "-n",
      "kube-system",
      "-o",
      "name",
    ]);
    assert.equal(r.code, 0, `kubectl against ${m.name}: ${r.stderr}`);
    assert.equal(r.stdout.trim(), "configmap/kube-proxy");
  }
}

describe("plan and apply: one master becomes three", { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  test("plan, and apply --dry-run, show every step and change nothing anywhere", async () => {
    const before = await clusterState(lab);
    const r = await kubeha(lab, ["plan", "-i", lab.inventoryFile]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /member add master-2 https:\/\/[\d.]+:2380 --learner/);
    assert.match(r.stdout, /\/etc\/kubernetes\/manifests\/kube-apiserver\.yaml \(0600\): new file/);
    assert.doesNotMatch(r.stdout, /PRIVATE KEY-----\n[A-Za-z0-9+/]/);
    const dry = await kubeha(lab, ["apply", "--dry-run", "-i", lab.inventoryFile]);
    assert.equal(dry.code, r.code, dry.stderr);
    // Progress lines carry the time, and so does the backup directory a plan names.
    const untimed = (s: string) =>
      s.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z .*\n/gm, "").replace(/backups\/\d{8}T\d{6}Z/g, "backups/TIME");
    assert.equal(untimed(dry.stdout), untimed(r.stdout));
    assert.deepEqual(await clusterState(lab), before);
    assert.ok(!existsSync(join(lab.stateDir, "backups")), "no backup taken");
  });

  test("apply --yes converts the cluster in under 60 seconds", async () => {
    const r = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /checks passed: the control plane is highly available/);
    assert.ok(r.ms < 60_000, `apply took ${r.ms} ms`);
    await assertHighlyAvailable(lab);
  });

  test("--output json is one JSON document without a secret, and so are the logs", async () => {
    const secrets = await secretsOf(lab);
    assert.ok(secrets.length >= 10, `${secrets.length} secrets collected`);
    for (const args of [["discover"], ["plan"], ["verify"], ["certs", "check"]]) {
      const r = await kubeha(lab, [...args, "-i", lab.inventoryFile, "--output", "json"]);
      // A converted cluster passes every check: exit 0, nothing else.
      assert.equal(r.code, 0, `${args.join(" ")}: exit ${r.code}: ${r.stdout}${r.stderr}`);
      assert.doesNotThrow(() => JSON.parse(r.stdout), `${args.join(" ")}: stdout is one JSON document`);
      for (const [name, s] of secrets) {
        assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), `${args.join(" ")} output shows ${name}`);
      }
    }
    const logs = join(lab.stateDir, "logs");
    const files = await readdir(logs);
    assert.ok(files.length >= 5, `${files.length} log files`);
    for (const f of files) {
      const text = await readFile(join(logs, f), "utf8");
      assert.equal((await stat(join(logs, f))).mode & 0o077, 0, `${f} is private`);
      for (const [name, s] of secrets) assert.ok(!text.includes(s), `log ${f} holds ${name}`);
    }
  });

  test("apply again changes nothing and says so", async () => {
    const before = await clusterState(lab);
    const r = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /nothing to do/);
    assert.deepEqual(await clusterState(lab), before);
  });

  test("verify names what each step's own check finds broken: a kubeconfig that must stay local, another master's serving certificate", async () => {
    const etc = (h: string) => join(lab.dir, "h", h, "etc-kubernetes");
    const lbServer = /server: (\S+)/.exec(await readFile(join(etc("master-1"), "admin.conf"), "utf8"))![1]!;
    const cm = join(etc("master-1"), "controller-manager.conf");
    const cmText = await readFile(cm, "utf8");
    const crt = join(etc("master-2"), "pki", "apiserver.crt");
    const key = join(etc("master-2"), "pki", "apiserver.key");
    const [crtText, keyText] = [await readFile(crt), await readFile(key)];
    /** SHA-256 fingerprint of what master-2's apiserver serves, and of a certificate file. */
    const served = async () =>
      (
        await lab.exec("master-2", [
          "sh",
          "-c",
          "openssl s_client -connect 127.0.0.1:6443 </dev/null 2>/dev/null | openssl x509 -noout -fingerprint -sha256",
        ])
      ).stdout.trim();
    const ofFile = async (path: string) =>
      (await lab.wsExec(["openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", path])).stdout.trim();
    const servedIs = async (path: string) => {
      const want = await ofFile(path);
      const deadline = Date.now() + 60_000;
      while ((await served()) !== want) {
        assert.ok(Date.now() < deadline, `master-2's apiserver never served ${path}`);
        await new Promise((r) => setTimeout(r, 300));
      }
    };
    try {
      // The primary's controller-manager through the LB; master-2 serving master-3's certificate.
      await writeFile(cm, cmText.replace(/server: \S+/, `server: ${lbServer}`));
      await writeFile(crt, await readFile(join(etc("master-3"), "pki", "apiserver.crt")));
      await writeFile(key, await readFile(join(etc("master-3"), "pki", "apiserver.key")));
      await servedIs(crt);
      const r = await kubeha(lab, ["verify", "-i", lab.inventoryFile]);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /✗ clients\/kubeconfigs\/master-1: master-1: \/etc\/kubernetes\/controller-manager\.conf goes through the LB/,
      );
      assert.match(
        r.stdout,
        new RegExp(`✗ control-plane/master-2: master-2: .*${lab.host("master-2").address}`),
      );
      assert.match(r.stdout, /✗ pki\/master-2: .*pki\/apiserver\.crt: SANs missing/);
      assert.match(r.stdout, /\d+ of \d+ checks FAILED/);
    } finally {
      await writeFile(cm, cmText);
      await writeFile(crt, crtText);
      await writeFile(key, keyText);
    }
    await servedIs(crt);
    const again = await kubeha(lab, ["verify", "-i", lab.inventoryFile]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
  });

  test("a manifest changed by hand is put back; the old one is kept under /etc/kubernetes/tmp, not beside it", async () => {
    const path = hostDir(lab, "master-2", "etc-kubernetes", "manifests", "kube-scheduler.yaml");
    const edited = (await readFile(path, "utf8")) + "# changed by hand\n";
    await writeFile(path, edited, { mode: 0o600 });
    const plan = await kubeha(lab, ["plan", "-i", lab.inventoryFile]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(
      // The plan is wrapped at 80 columns: its lines joined again.
      plan.stdout.replace(/\n +/g, " "),
      /the manifests it replaces are kept in \/etc\/kubernetes\/tmp\/kubeha-\d{8}T\d{6}Z\/ on master-2/,
    );
    const r = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const kept =
      /\[master-2\] control-plane: the old \/etc\/kubernetes\/manifests\/kube-scheduler\.yaml is kept in (\/etc\/kubernetes\/tmp\/kubeha-\d{8}T\d{6}Z)\//.exec(
        r.stdout,
      );
    assert.ok(kept, r.stdout);
    const backup = await manifestBackup(lab, "master-2", "kube-scheduler.yaml");
    assert.equal(
      backup.path,
      hostDir(
        lab,
        "master-2",
        "etc-kubernetes",
        kept[1]!.slice("/etc/kubernetes/".length),
        "kube-scheduler.yaml",
      ),
    );
    assert.equal(backup.text, edited);
    assert.equal(backup.mode, 0o600);
    assert.notEqual(await readFile(path, "utf8"), edited);
    const restore = /how to restore: (\S+)/.exec(r.stdout);
    assert.ok(restore, r.stdout);
    assert.match(
      await readFile(restore[1]!, "utf8"),
      /manifests kubeha replaces: in \/etc\/kubernetes\/tmp\/kubeha-\*\/ on that host/,
    );
    await assertHighlyAvailable(lab);
  });
});

describe("apply: killed at several points, resumed by running it again", { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ workers: 1 });
  });
  after(async () => {
    await lab?.stop();
  });

  test("after the first learner is added, after the first promotion, during the control-plane step, while moving clients", async () => {
    const args = ["apply", "--yes", "-i", lab.inventoryFile];
    // Each kill point, the step the run must be in when killed, and etcd's voters and learners then.
    const points: [RegExp, NodeJS.Signals, RegExp, string[], string[]][] = [
      [/\[master-2\] etcd: learner added/, "SIGKILL", /^etcd\/master-2$/, ["master-1"], ["master-2"]],
      [/\[master-2\] etcd: promoted/, "SIGKILL", /^etcd\/master-2$/, ["master-1", "master-2"], []],
      // master-3's: master-2's control plane may start while master-3's learner catches up.
      [
        /\[master-3\] control-plane: manifests written/,
        "SIGKILL",
        /^control-plane\//,
        ["master-1", "master-2", "master-3"],
        [],
      ],
      [
        /kube-system\/kube-proxy: updated/,
        "SIGKILL",
        /^clients\/kube-proxy$/,
        ["master-1", "master-2", "master-3"],
        [],
      ],
      // An operator's Ctrl-C: exit code 3, "interrupted and resumable".
      [
        /\[worker-1\] kubelet\.conf: server/,
        "SIGINT",
        /^clients\/workers$/,
        ["master-1", "master-2", "master-3"],
        [],
      ],
    ];
    for (const [point, signal, step, voters, learners] of points) {
      const r = await kubehaKilledAt(lab, args, point, signal);
      assert.ok(r.killed, `the run never reached ${point}:\n${r.stdout}`);
      if (signal === "SIGINT") {
        assert.equal(r.code, 3, r.stdout);
        assert.match(r.stdout, /interrupted: .*run `kubeha apply` again to resume/);
      } else assert.equal(r.code, 137, `killed by SIGKILL at ${point}:\n${r.stdout}`);
      const at = await stateAtKill(lab);
      assert.ok(
        at.inProgress.some((id) => step.test(id)),
        `killed at ${point}: the journal's steps in progress: ${at.inProgress.join(", ")}`,
      );
      assert.deepEqual(at.voters, voters, `etcd voters when killed at ${point}`);
      assert.deepEqual(at.learners, learners, `etcd learners when killed at ${point}`);
      // A learner is only ever there while the journal says its etcd step is in progress.
      for (const l of at.learners) assert.ok(at.inProgress.includes(`etcd/${l}`), at.inProgress.join(", "));
    }
    const done = await kubeha(lab, args);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    assert.match(done.stdout, /already done/);
    await assertHighlyAvailable(lab);
    const verify = await kubeha(lab, ["verify", "-i", lab.inventoryFile]);
    assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  });
});

describe("apply: a new member whose etcd cannot start", { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ workers: 1 });
  });
  after(async () => {
    await lab?.stop();
  });

  test("the learner is removed, quorum and data stay, the error shows the etcd log; fixed, apply finishes", async () => {
    // master-3's data directory becomes read-only: etcd there exits at once.
    const ro = await lab.exec("master-3", ["mount", "-o", "remount,bind,ro", "/var/lib/etcd"]);
    assert.equal(ro.code, 0, ro.stderr);
    const inv = await inventoryVariant(lab, "short-timeout", (i) => {
      i.options = { ...(i.options ?? {}), etcdLearnerTimeoutSeconds: 10 };
    });
    const failed = await kubeha(lab, ["apply", "--yes", "-i", inv]);
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.match(failed.stderr, /step etcd\/master-3 on master-3 failed/);
    assert.match(failed.stderr, /learner was removed/);
    assert.match(failed.stderr, /read-only file system/);
    assert.match(
      failed.stderr,
      /cluster now: etcd has 2 voting members \((master-1, master-2|master-2, master-1)\), healthy; apiservers ready: master-1/,
    );

    const list = await etcdctl(lab, [lab.primary.address], "member", "list", "-w", "json");
    assert.equal(list.code, 0, list.stderr);
    const members = (JSON.parse(list.stdout) as { members: { name?: string; isLearner?: boolean }[] })
      .members;
    assert.deepEqual(members.map((m) => m.name).sort(), ["master-1", "master-2"]);
    const health = await etcdctl(
      lab,
      [lab.primary.address, lab.host("master-2").address],
      "endpoint",
      "health",
    );
    assert.equal(health.code, 0, health.stdout + health.stderr);
    const put = await etcdctl(lab, [lab.primary.address], "put", "/kubeha-test/quorum", "yes");
    assert.equal(put.code, 0, `a write still succeeds: ${put.stderr}`);

    const rw = await lab.exec("master-3", ["mount", "-o", "remount,bind,rw", "/var/lib/etcd"]);
    assert.equal(rw.code, 0, rw.stderr);
    const done = await kubeha(lab, ["apply", "--yes", "-i", inv]);
    assert.equal(done.code, 0, done.stdout + done.stderr);
    await assertHighlyAvailable(lab);
  });
});

describe("apply: an older kubeadm layout whose etcd listens on localhost only", { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ workers: 1, etcdPeerLocalhost: true });
  });
  after(async () => {
    await lab?.stop();
  });

  test("the primary's etcd gets its address first, then the cluster is converted", async () => {
    const original = await readFile(
      hostDir(lab, "master-1", "etc-kubernetes", "manifests", "etcd.yaml"),
      "utf8",
    );
    const plan = await kubeha(lab, ["plan", "-i", lab.inventoryFile]);
    assert.equal(plan.code, 0, plan.stderr);
    // The plan is wrapped at 80 columns: its lines joined again.
    const planText = plan.stdout.replace(/\n +/g, " ");
    assert.match(planText, /make master-1's etcd reachable by peers/);
    assert.match(
      planText,
      /the old manifest is kept as \/etc\/kubernetes\/tmp\/kubeha-\d{8}T\d{6}Z\/etcd\.yaml/,
    );
    assert.match(planText, /member update master-1 --peer-urls=https:\/\/[\d.]+:2380/);
    const r = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const list = await etcdctl(lab, [lab.primary.address], "member", "list", "-w", "json");
    const members = (JSON.parse(list.stdout) as { members: { name?: string; peerURLs?: string[] }[] })
      .members;
    assert.deepEqual(members.find((m) => m.name === "master-1")?.peerURLs, [
      `https://${lab.primary.address}:2380`,
    ]);
    const backup = await manifestBackup(lab, "master-1", "etcd.yaml");
    assert.equal(backup.text, original, "the old-layout manifest, as it was");
    assert.equal(backup.mode, 0o600);
    await assertHighlyAvailable(lab);
  });
});
