// The kubelet, apiserver and controller-manager/scheduler stand-ins on loopback, with temp dirs and
// an openssl PKI: real etcd, real kubectl and etcdctl as clients. Needs no root.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, unlink, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DUPLICATE_POD_ERROR, type PodState } from "./kubelet-pods.js";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const SHIMS = join(HERE, "../../../test/lab/shims");

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((done) =>
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: 15_000 }, (err, stdout, stderr) =>
      done({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

async function until<T>(what: string, fn: () => Promise<T | undefined | false>, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.on("error", fail);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => done(typeof a === "object" && a ? a.port : 0));
    });
  });
}

function alive(pid: number | null | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** A small PKI made with the openssl CLI: EC keys, as kubeadm's ECDSA option (fast to generate). */
async function makePki(dir: string): Promise<void> {
  const ossl = async (...args: string[]): Promise<void> => {
    const r = await run("openssl", args);
    if (r.code !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
  };
  const key = (name: string) =>
    ossl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(dir, `${name}.key`));
  const ca = async (name: string) => {
    await key(name);
    await ossl(
      "req",
      "-x509",
      "-new",
      "-key",
      join(dir, `${name}.key`),
      "-subj",
      `/CN=${name}`,
      "-days",
      "2",
      "-out",
      join(dir, `${name}.crt`),
    );
  };
  const leaf = async (name: string, caName: string, subj: string, usage: string, san?: string) => {
    await key(name);
    await ossl(
      "req",
      "-new",
      "-key",
      join(dir, `${name}.key`),
      "-subj",
      subj,
      "-out",
      join(dir, `${name}.csr`),
    );
    const ext = join(dir, `${name}.ext`);
    await writeFile(
      ext,
      `keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=${usage}\n${san ? `subjectAltName=${san}\n` : ""}`,
    );
    await ossl(
      "x509",
      "-req",
      "-in",
      join(dir, `${name}.csr`),
      "-CA",
      join(dir, `${caName}.crt`),
      "-CAkey",
      join(dir, `${caName}.key`),
      "-CAcreateserial",
      "-days",
      "2",
      "-extfile",
      ext,
      "-out",
      join(dir, `${name}.crt`),
    );
  };
  await Promise.all([ca("ca"), ca("etcd-ca"), ca("other-ca")]);
  await Promise.all([
    leaf("etcd-server", "etcd-ca", "/CN=lab-node", "serverAuth,clientAuth", "DNS:localhost,IP:127.0.0.1"),
    leaf("etcd-client", "etcd-ca", "/O=system:masters/CN=kube-apiserver-etcd-client", "clientAuth"),
    leaf("apiserver", "ca", "/CN=kube-apiserver", "serverAuth", "DNS:kubernetes,IP:127.0.0.1"),
    leaf("admin", "ca", "/O=system:masters/CN=kubernetes-admin", "clientAuth"),
    leaf("kubelet", "ca", "/O=system:nodes/CN=system:node:lab-node", "clientAuth"),
    leaf("rogue", "other-ca", "/O=system:masters/CN=kubernetes-admin", "clientAuth"),
  ]);
}

async function kubeconfig(
  file: string,
  server: string,
  pki: string,
  user: string,
  inline: boolean,
): Promise<void> {
  const b64 = async (n: string) => (await readFile(join(pki, n))).toString("base64");
  const cluster = inline
    ? `certificate-authority-data: ${await b64("ca.crt")}`
    : `certificate-authority: ${join(pki, "ca.crt")}`;
  const creds = inline
    ? `client-certificate-data: ${await b64(`${user}.crt`)}\n    client-key-data: ${await b64(`${user}.key`)}`
    : `client-certificate: ${join(pki, `${user}.crt`)}\n    client-key: ${join(pki, `${user}.key`)}`;
  await writeFile(
    file,
    `apiVersion: v1\nkind: Config\nclusters:\n- name: lab\n  cluster:\n    server: ${server}\n    ${cluster}\n` +
      `users:\n- name: u\n  user:\n    ${creds}\ncontexts:\n- name: c\n  context: {cluster: lab, user: u}\ncurrent-context: c\n`,
  );
}

function podManifest(name: string, image: string, command: string[]): string {
  return `apiVersion: v1\nkind: Pod\nmetadata:\n  name: ${name}\n  namespace: kube-system\nspec:\n  hostNetwork: true\n  containers:\n  - name: ${name}\n    image: ${image}\n    command:\n${command.map((c) => `    - ${c}`).join("\n")}\n`;
}

describe("stand-ins on loopback", () => {
  let dir = "";
  let pki = "";
  let manifests = "";
  let kubelet: ChildProcess | undefined;
  /** The kubelet stand-in's output so far. */
  let kubeletOut = "";
  const ports = { etcd: 0, peer: 0, api: 0, sched: 0 };
  const seen = new Set<number>();
  const env = (): Record<string, string> => ({
    KUBELET_STANDIN_PID: join(dir, "kubelet.pid"),
    KUBELET_STANDIN_STATE: join(dir, "kubelet/standin"),
    KUBEHA_HOST_JSON: join(dir, "host.json"),
  });
  const kubectl = (...args: string[]) =>
    run("kubectl", [
      "--kubeconfig",
      join(dir, "admin.conf"),
      "--cache-dir",
      join(dir, "kube-cache"),
      ...args,
    ]);
  const state = async (pod: string): Promise<PodState> =>
    JSON.parse(await readFile(join(dir, "kubelet/standin", `${pod}.json`), "utf8")) as PodState;
  const runningPid = async (pod: string, not?: number): Promise<number | undefined> => {
    const s = await state(pod).catch(() => undefined);
    if (s?.state === "running" && s.pid && s.pid !== not && alive(s.pid)) {
      seen.add(s.pid);
      return s.pid;
    }
    return undefined;
  };
  const etcdManifest = (): string =>
    podManifest("etcd", "registry.k8s.io/etcd:3.5.15-0", [
      "etcd",
      "--name=lab-node",
      `--data-dir=${join(dir, "etcd-data")}`,
      `--listen-client-urls=https://127.0.0.1:${ports.etcd}`,
      `--advertise-client-urls=https://127.0.0.1:${ports.etcd}`,
      `--listen-peer-urls=https://127.0.0.1:${ports.peer}`,
      `--initial-advertise-peer-urls=https://127.0.0.1:${ports.peer}`,
      `--initial-cluster=lab-node=https://127.0.0.1:${ports.peer}`,
      "--client-cert-auth=true",
      "--peer-client-cert-auth=true",
      ...[
        "cert-file=etcd-server.crt",
        "key-file=etcd-server.key",
        "trusted-ca-file=etcd-ca.crt",
        "peer-cert-file=etcd-server.crt",
        "peer-key-file=etcd-server.key",
        "peer-trusted-ca-file=etcd-ca.crt",
      ].map((kv) => `--${kv.replace("=", `=${pki}/`)}`),
    ]);
  const apiManifest = (extra: string[] = []): string =>
    podManifest("kube-apiserver", "registry.k8s.io/kube-apiserver:v1.31.2", [
      "kube-apiserver",
      "--advertise-address=127.0.0.1",
      "--bind-address=127.0.0.1",
      `--secure-port=${ports.api}`,
      `--tls-cert-file=${pki}/apiserver.crt`,
      `--tls-private-key-file=${pki}/apiserver.key`,
      `--client-ca-file=${pki}/ca.crt`,
      `--etcd-servers=https://127.0.0.1:${ports.etcd}`,
      `--etcd-cafile=${pki}/etcd-ca.crt`,
      `--etcd-certfile=${pki}/etcd-client.crt`,
      `--etcd-keyfile=${pki}/etcd-client.key`,
      "--service-cluster-ip-range=10.96.0.0/12",
      "--authorization-mode=Node,RBAC",
      ...extra,
    ]);
  const etcdctl = (...args: string[]) =>
    run(
      "etcdctl",
      [
        `--endpoints=https://127.0.0.1:${ports.etcd}`,
        `--cacert=${pki}/etcd-ca.crt`,
        `--cert=${pki}/etcd-client.crt`,
        `--key=${pki}/etcd-client.key`,
        "--dial-timeout=2s",
        "--command-timeout=3s",
        ...args,
      ],
      { ETCDCTL_API: "3" },
    );

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kubeha-standins-"));
    pki = join(dir, "pki");
    manifests = join(dir, "manifests");
    await run("mkdir", ["-p", pki, manifests]);
    for (const k of Object.keys(ports) as (keyof typeof ports)[]) ports[k] = await freePort();
    await makePki(pki);
    await kubeconfig(join(dir, "admin.conf"), `https://127.0.0.1:${ports.api}`, pki, "admin", true);
    await kubeconfig(join(dir, "rogue.conf"), `https://127.0.0.1:${ports.api}`, pki, "rogue", true);
    await writeFile(
      join(dir, "host.json"),
      JSON.stringify({ name: "lab-node", address: "127.0.0.1", role: "primary", kubeletVersion: "v1.31.2" }),
    );
    kubelet = spawn(
      process.execPath,
      [
        join(HERE, "kubelet.js"),
        "--manifests",
        manifests,
        "--root-dir",
        join(dir, "kubelet"),
        "--log-dir",
        join(dir, "pods"),
        "--pid-file",
        join(dir, "kubelet.pid"),
        "--kubeconfig",
        join(dir, "kubelet.conf"),
        "--host-json",
        join(dir, "host.json"),
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    kubelet.stdout?.on("data", (c: Buffer) => (kubeletOut += c.toString()));
    kubelet.stderr?.on("data", (c: Buffer) => (kubeletOut += c.toString()));
    kubelet.on("exit", () => (process.env.STANDINS_DEBUG ? console.log(kubeletOut) : undefined));
  });

  after(async () => {
    if (kubelet?.pid && alive(kubelet.pid)) {
      kubelet.kill("SIGTERM");
      await until("kubelet exit", async () => !alive(kubelet?.pid), 8000).catch(() =>
        kubelet?.kill("SIGKILL"),
      );
    }
    for (const pid of seen) if (alive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  });

  test("an etcd manifest runs the real etcd with its TLS flags", async () => {
    await writeFile(join(manifests, "etcd.yaml"), etcdManifest());
    await until("etcd healthy", async () => (await etcdctl("endpoint", "health")).code === 0);
    const s = await state("etcd");
    assert.equal(s.state, "running");
    assert.match(s.logPath, /kube-system_etcd-lab-node_[0-9a-f-]+\/etcd\/0\.log$/);
  });

  test("an apiserver manifest serves /readyz, /version and discovery to kubectl", async () => {
    await writeFile(join(manifests, "kube-apiserver.yaml"), apiManifest());
    await until("apiserver ready", async () => (await kubectl("get", "--raw", "/readyz")).stdout === "ok");
    const v = await kubectl("version", "-o", "json");
    assert.equal(v.code, 0, v.stderr);
    assert.equal(
      (JSON.parse(v.stdout) as { serverVersion: { gitVersion: string } }).serverVersion.gitVersion,
      "v1.31.2",
    );
    const res = await kubectl("api-resources");
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /configmaps\s+cm\s+v1\s+true\s+ConfigMap/);
    assert.match(res.stdout, /daemonsets\s+ds\s+apps\/v1\s+true\s+DaemonSet/);
  });

  test("configmaps: create, get, patch, stale update conflicts, JSON in etcd", async () => {
    let r = await kubectl("create", "configmap", "demo", "-n", "kube-system", "--from-literal=a=1");
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl("create", "configmap", "demo", "-n", "kube-system", "--from-literal=a=1");
    assert.match(r.stderr, /AlreadyExists|already exists/);
    r = await kubectl("get", "cm", "demo", "-n", "kube-system", "-o", "json");
    const stale = JSON.parse(r.stdout) as {
      data: Record<string, string>;
      metadata: { resourceVersion: string };
    };
    assert.deepEqual(stale.data, { a: "1" });
    r = await kubectl("patch", "cm", "demo", "-n", "kube-system", "-p", '{"data":{"b":"2"}}');
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(
      "patch",
      "cm",
      "demo",
      "-n",
      "kube-system",
      "--type=json",
      "-p",
      '[{"op":"replace","path":"/data/a","value":"3"}]',
    );
    assert.equal(r.code, 0, r.stderr);
    await writeFile(join(dir, "stale.json"), JSON.stringify({ ...stale, data: { a: "stale" } }));
    r = await kubectl("replace", "--validate=false", "-f", join(dir, "stale.json"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Conflict|the object has been modified/);
    const e = await etcdctl("get", "/registry/configmaps/kube-system/demo", "--print-value-only");
    assert.deepEqual((JSON.parse(e.stdout) as { data: unknown }).data, { a: "3", b: "2" });
    r = await kubectl("get", "cm", "-A");
    assert.match(r.stdout, /kube-system\s+demo\s+2\s+/);
  });

  test("a client certificate from another CA is refused", async () => {
    const r = await run("kubectl", [
      "--kubeconfig",
      join(dir, "rogue.conf"),
      "--cache-dir",
      join(dir, "kube-cache2"),
      "get",
      "cm",
      "-A",
    ]);
    assert.notEqual(r.code, 0);
  });

  test("with kubelet.conf (file paths) the Node registers; label, taint and heartbeats work", async () => {
    await kubeconfig(join(dir, "kubelet.conf"), `https://127.0.0.1:${ports.api}`, pki, "kubelet", false);
    const r = await run("sh", [join(SHIMS, "systemctl"), "restart", "kubelet"], env());
    assert.equal(r.code, 0, r.stderr);
    const node = await kubectl("get", "node", "lab-node", "-o", "jsonpath={.status.nodeInfo.kubeletVersion}");
    assert.equal(node.stdout, "v1.31.2", node.stderr);
    assert.equal(
      (await kubectl("label", "node", "lab-node", "node-role.kubernetes.io/control-plane=")).code,
      0,
    );
    const t = await kubectl("taint", "node", "lab-node", "node-role.kubernetes.io/control-plane:NoSchedule");
    assert.equal(t.code, 0, t.stderr);
    const table = await kubectl("get", "nodes");
    assert.match(table.stdout, /lab-node\s+Ready\s+control-plane/);
    const beat = async () =>
      (
        await kubectl(
          "get",
          "node",
          "lab-node",
          "-o",
          'jsonpath={.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}',
        )
      ).stdout;
    const first = await beat();
    await until("a newer heartbeat", async () => (await beat()) > first, 5000);
    const taints = await kubectl("get", "node", "lab-node", "-o", "jsonpath={.spec.taints[0].key}");
    assert.equal(taints.stdout, "node-role.kubernetes.io/control-plane");
  });

  test("daemonsets: create, rollout restart bumps generation", async () => {
    const ds = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "kube-proxy", namespace: "kube-system" },
      spec: {
        selector: { matchLabels: { k8s: "kube-proxy" } },
        template: {
          metadata: { labels: { k8s: "kube-proxy" } },
          spec: { containers: [{ name: "kube-proxy", image: "registry.k8s.io/kube-proxy:v1.31.2" }] },
        },
      },
    };
    await writeFile(join(dir, "ds.json"), JSON.stringify(ds));
    let r = await kubectl("create", "--validate=false", "-f", join(dir, "ds.json"));
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl("rollout", "restart", "ds/kube-proxy", "-n", "kube-system");
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl(
      "get",
      "ds",
      "-n",
      "kube-system",
      "kube-proxy",
      "-o",
      "jsonpath={.metadata.generation}",
    );
    assert.equal(r.stdout, "2");
    r = await kubectl("get", "ds", "-n", "kube-system");
    assert.match(r.stdout, /kube-proxy/);
  });

  test("leases: create once (AlreadyExists), stale update conflicts, delete only with matching preconditions", async () => {
    const lease = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "demo-lock", namespace: "kube-system" },
      spec: { holderIdentity: "ann@ws pid 1", leaseDurationSeconds: 60 },
    };
    await writeFile(join(dir, "lease.json"), JSON.stringify(lease));
    let r = await kubectl("create", "--validate=false", "-f", join(dir, "lease.json"));
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl("create", "--validate=false", "-f", join(dir, "lease.json"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /AlreadyExists|already exists/);
    r = await kubectl("get", "lease", "demo-lock", "-n", "kube-system", "-o", "json");
    const stale = JSON.parse(r.stdout) as typeof lease & {
      metadata: { resourceVersion: string; uid: string };
    };
    r = await kubectl(
      "patch",
      "lease",
      "demo-lock",
      "-n",
      "kube-system",
      "--type=merge",
      "-p",
      '{"spec":{"holderIdentity":"bob@ws pid 2"}}',
    );
    assert.equal(r.code, 0, r.stderr);
    await writeFile(
      join(dir, "stale-lease.json"),
      JSON.stringify({ ...stale, spec: { ...stale.spec, holderIdentity: "carl@ws pid 3" } }),
    );
    r = await kubectl("replace", "--validate=false", "-f", join(dir, "stale-lease.json"));
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Conflict|the object has been modified/);
    r = await kubectl("get", "leases", "-n", "kube-system");
    assert.match(r.stdout, /demo-lock\s+bob@ws pid 2\s+/);
    const path = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/demo-lock";
    const deleteWith = async (preconditions: object) => {
      await writeFile(
        join(dir, "delete.json"),
        JSON.stringify({ kind: "DeleteOptions", apiVersion: "v1", preconditions }),
      );
      return kubectl("delete", "--raw", path, "-f", join(dir, "delete.json"));
    };
    r = await deleteWith({ resourceVersion: stale.metadata.resourceVersion });
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /Precondition failed: ResourceVersion in precondition/);
    r = await kubectl("get", "lease", "demo-lock", "-n", "kube-system", "-o", "json");
    const current = JSON.parse(r.stdout) as { metadata: { resourceVersion: string; uid: string } };
    r = await deleteWith({ uid: "another-uid", resourceVersion: current.metadata.resourceVersion });
    assert.match(r.stderr, /Precondition failed: UID in precondition/);
    r = await deleteWith({ uid: current.metadata.uid, resourceVersion: current.metadata.resourceVersion });
    assert.equal(r.code, 0, r.stderr);
    r = await kubectl("get", "lease", "demo-lock", "-n", "kube-system");
    assert.match(r.stderr, /NotFound|not found/);
  });

  test("a scheduler manifest runs the component stand-in, which checks its kubeconfig and holds its leader lease", async () => {
    await kubeconfig(join(dir, "scheduler.conf"), `https://127.0.0.1:${ports.api}`, pki, "admin", true);
    await writeFile(
      join(manifests, "kube-scheduler.yaml"),
      podManifest("kube-scheduler", "registry.k8s.io/kube-scheduler:v1.31.2", [
        "kube-scheduler",
        "--bind-address=127.0.0.1",
        `--secure-port=${ports.sched}`,
        `--kubeconfig=${join(dir, "scheduler.conf")}`,
        "--leader-elect=true",
      ]),
    );
    await until(
      "scheduler /healthz",
      async () => (await run("curl", ["-sk", `https://127.0.0.1:${ports.sched}/healthz`])).stdout === "ok",
    );
    // As the real scheduler: the Lease kube-system/kube-scheduler, held as <hostname>_<uuid>.
    const holder = async (): Promise<string> =>
      (
        await kubectl(
          "get",
          "lease",
          "kube-scheduler",
          "-n",
          "kube-system",
          "-o",
          "jsonpath={.spec.holderIdentity}",
        )
      ).stdout;
    const leader = await until("the scheduler's lease", async () => (await holder()) || undefined);
    assert.match(leader, new RegExp(`^${hostname()}_[0-9a-f-]{36}$`));
    // A container that dies is started again (after the kubelet's back-off), as the kubelet does.
    const first = await until("scheduler pid", () => runningPid("kube-scheduler"));
    process.kill(first, "SIGKILL");
    await until("scheduler restarted", () => runningPid("kube-scheduler", first));
    assert.equal((await state("kube-scheduler")).restarts, 1);
    // The new instance takes the lease once the dead one's has run out (15 s unrenewed).
    const next = await until(
      "the lease taken over",
      async () => ((await holder()) !== leader ? holder() : undefined),
      40_000,
    );
    assert.match(next, new RegExp(`^${hostname()}_[0-9a-f-]{36}$`));
    const bad = await run(process.execPath, [
      join(HERE, "component.js"),
      "kube-scheduler",
      `--kubeconfig=${join(dir, "rogue.conf")}`,
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /kube-scheduler stand-in: kubeconfig .*rogue\.conf/);
  });

  test("shims: crictl ps/logs/inspect, kubelet and containerd versions", async () => {
    const ps = await run("sh", [join(SHIMS, "crictl"), "ps", "--name", "etcd", "-q"], env());
    assert.equal(ps.code, 0, ps.stderr);
    const id = ps.stdout.trim();
    assert.match(id, /^[0-9a-f]{13,}$/);
    const logs = await run("sh", [join(SHIMS, "crictl"), "logs", "--tail", "5", id], env());
    assert.equal(logs.stdout.trim().split("\n").length, 5);
    const inspect = await run("sh", [join(SHIMS, "crictl"), "inspect", id], env());
    assert.equal(
      (JSON.parse(inspect.stdout) as { status: { state: string } }).status.state,
      "CONTAINER_RUNNING",
    );
    assert.equal(
      (await run("sh", [join(SHIMS, "kubelet"), "--version"], env())).stdout.trim(),
      "Kubernetes v1.31.2",
    );
    assert.match(
      (await run("sh", [join(SHIMS, "containerd"), "--version"])).stdout,
      /^containerd containerd.io 1\.7\.22/,
    );
    assert.equal(
      (await run("sh", [join(SHIMS, "systemctl"), "is-active", "kubelet"], env())).stdout.trim(),
      "active",
    );
  });

  test("a changed manifest restarts the pod; a removed one stops it", async () => {
    const before = await until("apiserver pid", () => runningPid("kube-apiserver"));
    await writeFile(join(manifests, "kube-apiserver.yaml"), apiManifest(["--v=2"]));
    const after = await until("new apiserver pid", () => runningPid("kube-apiserver", before));
    assert.ok(!alive(before));
    assert.notEqual(after, before);
    await until(
      "apiserver ready again",
      async () => (await kubectl("get", "--raw", "/readyz")).stdout === "ok",
    );
    await writeFile(join(manifests, "broken.yaml"), "kind: Pod\nspec: [");
    const etcdPid = await until("etcd pid", () => runningPid("etcd"));
    await unlink(join(manifests, "etcd.yaml"));
    await until("etcd stopped", async () => !alive(etcdPid) && (await state("etcd")).state === "exited");
    const r = await kubectl("get", "--raw", "/readyz");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr + r.stdout, /etcd/);
    assert.ok(alive(after), "a malformed manifest does not disturb the others");
  });

  test("every non-hidden file is a manifest; two files defining one pod run neither and log an error", async () => {
    const current = join(manifests, "kube-apiserver.yaml");
    const pid = await until("apiserver pid", () => runningPid("kube-apiserver"));
    // A hidden file (how kubeha writes atomically) is not read, whatever it holds.
    const hidden = join(manifests, ".kube-apiserver.yaml.kubeha-tmp.1");
    await writeFile(hidden, apiManifest());
    await new Promise((r) => setTimeout(r, 1000)); // several scans
    assert.ok(alive(pid), "a dot-file copy of a manifest does not disturb its pod");
    assert.doesNotMatch(kubeletOut, new RegExp(DUPLICATE_POD_ERROR));
    await unlink(hidden);
    // Any other name is read as the kubelet reads it: an outdated copy kept beside the manifest, as
    // kubeha once kept its backups, defines the same pod a second time.
    const copy = join(manifests, "kube-apiserver.yaml.kubeha-20261204T120000Z.bak");
    await writeFile(copy, apiManifest());
    const line = await until("the duplicate-pod error", async () =>
      kubeletOut.split("\n").find((l) => l.startsWith(DUPLICATE_POD_ERROR)),
    );
    assert.ok(
      line.includes(`pod kube-system/kube-apiserver is defined by ${current} and ${copy}`),
      `the error names both files: ${line}`,
    );
    await until(
      "apiserver stopped",
      async () => !alive(pid) && (await state("kube-apiserver")).state === "exited",
    );
    assert.ok(await runningPid("kube-scheduler"), "the other pods keep running");
    await unlink(copy);
    const again = await until("apiserver running again", () => runningPid("kube-apiserver", pid));
    assert.ok((await state("kube-apiserver")).command.includes("--v=2"), "the manifest's own flags");
    assert.ok(alive(again));
    assert.match(kubeletOut, /duplicate static pods gone/);
  });

  test("SIGTERM stops the kubelet and every pod it runs", async () => {
    const pids = [...seen].filter(alive);
    assert.ok(pids.length >= 2, `running pods: ${pids.join(",")}`);
    kubelet?.kill("SIGTERM");
    await until("kubelet exit", async () => !alive(kubelet?.pid), 8000);
    assert.deepEqual(pids.filter(alive), []);
    assert.ok(!existsSync(join(dir, "kubelet.pid")));
  });
});
