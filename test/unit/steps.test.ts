// Steps without root or a cluster, against stand-in Host, Etcd and Kube: what each records in a plan
// (nothing changes) equals what it records and carries out in apply, and is what the step is for.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { EffectLog, hostByHost, type Effect } from "../../src/effects/types.js";
import { World } from "../../src/effects/view.js";
import { nginxStep } from "../../src/phases/load-balancer.js";
import { etcdJoinStep } from "../../src/phases/etcd.js";
import { masterKubeconfigsStep, updateObject } from "../../src/phases/clients.js";
import { recordingKube } from "../../src/effects/kube.js";
import { objectPath } from "../../src/kube/client.js";
import type { RunContext } from "../../src/engine/context.js";
import type { Step } from "../../src/engine/step.js";
import { effectDifferences } from "../helpers/effects.js";
import { FakeEtcd, FakeHost, FakeKube, fakeContext } from "../helpers/fakes.js";

/** The step's run in a plan (recorded, nothing done), then in apply (done and recorded). */
async function planThenApply(ctx: RunContext, step: Step): Promise<{ planned: Effect[]; applied: Effect[] }> {
  const planned = new EffectLog(true);
  await ctx.planningOnly(() => step.run(ctx.recording(planned, new World())));
  const applied = new EffectLog(false);
  await step.run(ctx.recording(applied, new World()));
  return { planned: planned.effects, applied: applied.effects };
}

const same = (id: string, r: { planned: Effect[]; applied: Effect[] }) =>
  assert.deepEqual(effectDifferences([{ id, effects: r.planned }], [{ id, effects: r.applied }]), []);

const brief = (e: Effect): string =>
  e.kind === "file"
    ? `write ${e.host}:${e.path}`
    : e.kind === "command"
      ? `run ${e.host}: ${e.command}`
      : e.kind === "etcd"
        ? `etcd ${e.op} ${e.member}`
        : e.kind === "api"
          ? `api ${e.verb} ${e.object}`
          : `wait ${e.condition}`;

describe("the LB step against a stand-in host", () => {
  const conf = "events {}\nhttp {\n}\n";
  const lb = new FakeHost("lb", "10.0.0.20", (cmd, h) => {
    if (cmd === "nginx -V 2>&1")
      return {
        stdout: "nginx version: nginx/1.22.1\nconfigure arguments: --with-stream --prefix=/etc/nginx",
      };
    // nginx -T prints every file it loads: here, every file under /etc/nginx.
    if (cmd === "nginx -T 2>&1") return { stdout: [...h.files.values()].join("\n") };
    if (cmd === "systemctl is-active --quiet nginx") return { code: 3 };
    if (cmd.startsWith("ss ")) return { stdout: "LISTEN 0 511 0.0.0.0:6443 0.0.0.0:*\n" };
    return undefined;
  });
  lb.files.set("/etc/nginx/nginx.conf", conf);
  const ctx = fakeContext({ hosts: [lb], cluster: {} });

  test("plan records the stream config, the include, the reload and the wait, and changes nothing; apply the same", async () => {
    const step = await nginxStep(ctx, "lb");
    const planned = new EffectLog(true);
    await ctx.planningOnly(() => step.run(ctx.recording(planned, new World())));
    assert.deepEqual(lb.changes, [], "a plan changes nothing");
    assert.equal(lb.files.get("/etc/nginx/nginx.conf"), conf);
    assert.deepEqual(planned.effects.map(brief), [
      "run lb: mkdir -p /etc/nginx/stream.d",
      "write lb:/etc/nginx/stream.d/kubeha-apiservers.conf",
      "write lb:/etc/nginx/nginx.conf",
      "run lb: nginx -s reload",
      "wait nginx on lb to serve port 6443",
    ]);
    const stream = planned.effects[1] as Extract<Effect, { kind: "file" }>;
    for (const a of ["10.0.0.11", "10.0.0.12", "10.0.0.13"])
      assert.match(stream.content!, new RegExp(`server ${a}:6443`));
    assert.equal(stream.before, null, "a new file");

    const applied = new EffectLog(false);
    await step.run(ctx.recording(applied, new World()));
    same("load-balancer/lb", { planned: planned.effects, applied: applied.effects });
    assert.deepEqual(lb.changes, [
      "mkdir -p /etc/nginx/stream.d",
      "write /etc/nginx/stream.d/kubeha-apiservers.conf",
      "write /etc/nginx/nginx.conf",
      "nginx -s reload",
    ]);
    assert.equal(lb.files.get("/etc/nginx/stream.d/kubeha-apiservers.conf"), stream.content);
  });
});

describe("an etcd join step against a stand-in etcd", () => {
  const etcdManifest = readFileSync(
    new URL("../../../test/fixtures/manifests/v1.31/etcd.yaml", import.meta.url),
    "utf8",
  );
  // Listed after the new members: etcd lists by ID, and the primary's is the largest here.
  const primary = {
    id: "fffffffffffffff1",
    name: "master-1",
    peerUrls: ["https://10.0.0.11:2380"],
    clientUrls: [],
    isLearner: false,
    started: true,
  };

  test("the manifest's --initial-cluster is the add's answer, predicted in the plan, real in apply", async () => {
    const etcd = new FakeEtcd([structuredClone(primary)]);
    const hosts = ["master-1", "master-2", "master-3"].map((n, i) => new FakeHost(n, `10.0.0.1${i + 1}`));
    const ctx = fakeContext({ hosts, etcd, cluster: { manifests: { etcd: etcdManifest } as never } });
    const step = etcdJoinStep(ctx, ctx.inventory.masters[0]!);
    const r = await planThenApply(ctx, step);
    assert.deepEqual(r.planned.map(brief), [
      "etcd add-learner master-2",
      "run master-2: rm -rf /var/lib/etcd/member",
      "write master-2:/etc/kubernetes/manifests/etcd.yaml",
      "etcd promote master-2",
      "wait etcd cluster health",
    ]);
    same("etcd/master-2", r);
    const manifest = (l: Effect[]) => (l[2] as Extract<Effect, { kind: "file" }>).content!;
    assert.match(
      manifest(r.planned),
      /--initial-cluster=master-1=https:\/\/10\.0\.0\.11:2380,master-2=https:\/\/10\.0\.0\.12:2380\n/,
    );
    assert.equal(manifest(r.planned), manifest(r.applied));
    // Only apply reached etcd; the plan's member ID is a placeholder, apply's the one etcd chose.
    assert.deepEqual(etcd.calls, ["add https://10.0.0.12:2380", "promote 8e9e05c52164694e"]);
    assert.equal((r.applied[0] as Extract<Effect, { kind: "etcd" }>).id, "8e9e05c52164694e");
    assert.deepEqual(hosts[1]!.changes, [
      "rm -rf /var/lib/etcd/member",
      "write /etc/kubernetes/manifests/etcd.yaml",
    ]);
  });

  test("both new members: the second one's plan sees the first added and promoted; apply agrees", async () => {
    const etcd = new FakeEtcd([structuredClone(primary)]);
    const hosts = ["master-1", "master-2", "master-3"].map((n, i) => new FakeHost(n, `10.0.0.1${i + 1}`));
    const ctx = fakeContext({ hosts, etcd, cluster: { manifests: { etcd: etcdManifest } as never } });
    const steps = ctx.inventory.masters.map((m) => etcdJoinStep(ctx, m));
    const run = async (dry: boolean) => {
      const world = new World();
      const out = [];
      for (const s of steps) {
        const log = new EffectLog(dry);
        await s.run(ctx.recording(log, world));
        out.push({ id: s.id, effects: log.effects });
      }
      return out;
    };
    const planned = await ctx.planningOnly(() => run(true));
    assert.deepEqual(etcd.calls, []);
    const file = planned[1]!.effects.find((e): e is Extract<Effect, { kind: "file" }> => e.kind === "file")!;
    assert.match(
      file.content!,
      /--initial-cluster=master-1=https:\/\/10\.0\.0\.11:2380,master-2=https:\/\/10\.0\.0\.12:2380,master-3=https:\/\/10\.0\.0\.13:2380\n/,
    );
    assert.deepEqual(effectDifferences(planned, await run(false)), []);
    assert.equal(etcd.calls.length, 4);
  });
});

describe("a master's kubeconfig step against a stand-in host and API", () => {
  const kubeconfig = (server: string) =>
    `apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    server: ${server}\n  name: kubernetes\ncontexts:\n- context:\n    cluster: kubernetes\n    user: u\n  name: c\ncurrent-context: c\nusers:\n- name: u\n  user:\n    client-certificate: /var/lib/kubelet/pki/kubelet-client-current.pem\n`;

  test("kubelet.conf and admin.conf through the LB, the kubelet restarted, Ready awaited; the plan changes nothing", async () => {
    const m1 = new FakeHost("master-1", "10.0.0.11", (cmd) => {
      if (cmd === "date +%s") return { stdout: "1000\n" };
      if (cmd.startsWith("stat -c %Y")) return { stdout: "1000\n" };
      return undefined;
    });
    for (const f of ["admin.conf", "kubelet.conf"])
      m1.files.set(`/etc/kubernetes/${f}`, kubeconfig("https://10.0.0.11:6443"));
    const kube = new FakeKube();
    kube.objects.set(objectPath("nodes", "master-1"), {
      metadata: { name: "master-1", resourceVersion: "7" },
      status: {
        conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: new Date().toISOString() }],
      },
    });
    const ctx = fakeContext({ hosts: [m1], kube, cluster: {} });
    const step = await masterKubeconfigsStep(ctx, ctx.inventory.primary);
    const before = new Map(m1.files);
    const planned = new EffectLog(true);
    await ctx.planningOnly(() => step.run(ctx.recording(planned, new World())));
    assert.deepEqual(m1.changes, []);
    assert.deepEqual(m1.files, before);
    assert.deepEqual(planned.effects.map(brief), [
      "write master-1:/etc/kubernetes/admin.conf",
      "write master-1:/etc/kubernetes/kubelet.conf",
      "run master-1: systemctl restart kubelet",
      "wait Node master-1 to report Ready after the kubelet restart",
    ]);
    const admin = planned.effects[0] as Extract<Effect, { kind: "file" }>;
    assert.equal(admin.content, kubeconfig("https://10.0.0.20:6443"));
    assert.equal(admin.backup, "/etc/kubernetes/admin.conf.kubeha-<time>.bak");
    const applied = new EffectLog(false);
    await step.run(ctx.recording(applied, new World()));
    same("clients/kubeconfigs/master-1", { planned: planned.effects, applied: applied.effects });
    assert.equal(m1.files.get("/etc/kubernetes/kubelet.conf"), kubeconfig("https://10.0.0.20:6443"));
  });
});

describe("a plan cannot change anything, even past its recording view", () => {
  test("a host taken when the step was built refuses writes and changing commands while planning", async () => {
    const h = new FakeHost("master-1", "10.0.0.11");
    const ctx = fakeContext({ hosts: [h], cluster: {} });
    const captured = ctx.host("master-1");
    await assert.rejects(
      ctx.planningOnly(() => captured.writeFile("/etc/x", "y")),
      /internal: master-1: write \/etc\/x while planning/,
    );
    await assert.rejects(
      ctx.planningOnly(() => captured.exec("systemctl restart kubelet", { changes: true })),
      /while planning/,
    );
    assert.deepEqual(h.changes, []);
    await captured.writeFile("/etc/x", "y");
    assert.deepEqual(h.changes, ["write /etc/x"]);
  });

  test("only the plan's own call chain is refused: the backup and the lock beside it still work", async () => {
    const h = new FakeHost("master-1", "10.0.0.11");
    const ctx = fakeContext({ hosts: [h], cluster: {} });
    const captured = ctx.host("master-1");
    let release!: () => void;
    const planGate = new Promise<void>((r) => (release = r));
    const plan = ctx.planningOnly(async () => {
      await planGate;
      await captured.writeFile("/etc/from-plan", "y");
    });
    // Started outside the plan while it runs (apply --yes backs up while the plan's effects are derived).
    await captured.writeFile("/etc/beside", "y");
    release();
    await assert.rejects(plan, /write \/etc\/from-plan while planning/);
    assert.deepEqual(h.changes, ["write /etc/beside"]);
  });

  test("a secret written is recorded by hash and description only", async () => {
    const h = new FakeHost("master-2", "10.0.0.12");
    const ctx = fakeContext({ hosts: [h], cluster: {} });
    const log = new EffectLog(true);
    const key =
      "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n";
    await ctx
      .recording(log, new World())
      .host("master-2")
      .writeFile("/etc/kubernetes/pki/x.key", key, { mode: 0o600 });
    const e = log.effects[0] as Extract<Effect, { kind: "file" }>;
    assert.equal(e.secret, true);
    assert.equal(e.content, undefined);
    assert.equal(e.before, null, "a new file: whether one existed is kept, never its content");
    assert.equal(e.summary, "private key");
    assert.ok(!JSON.stringify(log.effects).includes("MIIEvQ"));
    assert.deepEqual(h.changes, []);
  });
});

describe("apply records what the API took", () => {
  test("an update refused with 409 (the kubelet's heartbeat in between), read again and retried, is one update", async () => {
    const kube = new FakeKube();
    const path = objectPath("nodes", "master-2");
    kube.objects.set(path, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "master-2", resourceVersion: "1" },
    });
    const log = new EffectLog(false);
    const recorded = recordingKube(kube, log, new World().objects);
    let heartbeat = true;
    await updateObject(recorded, path, (n) => {
      if (heartbeat) {
        heartbeat = false;
        kube.objects.set(path, { ...structuredClone(n), metadata: { ...n.metadata, resourceVersion: "2" } });
      }
      n.metadata.labels = { "node-role.kubernetes.io/control-plane": "" };
      return true;
    });
    assert.deepEqual(kube.updates, [path]);
    assert.deepEqual(
      log.effects.map((e) => (e.kind === "api" ? `${e.verb} ${e.object} rv ${e.resourceVersion}` : e.kind)),
      [`update ${path} rv 2`],
    );
  });
});

describe("a step's effects, host by host", () => {
  const cmd = (host: string, command: string): Effect => ({ kind: "command", host, command });
  const etcd = (op: "add-learner" | "promote"): Effect => ({ kind: "etcd", op, member: "m", id: "1" });

  test("concurrent hosts come out the same whatever the timing; each host's own order and the etcd effects stay", () => {
    const hosts = ["lb", "worker-1", "worker-2"];
    const a = [
      cmd("worker-2", "write"),
      cmd("worker-1", "write"),
      cmd("worker-2", "restart"),
      cmd("worker-1", "restart"),
    ];
    const b = [
      cmd("worker-1", "write"),
      cmd("worker-2", "write"),
      cmd("worker-1", "restart"),
      cmd("worker-2", "restart"),
    ];
    const want = [
      cmd("worker-1", "write"),
      cmd("worker-1", "restart"),
      cmd("worker-2", "write"),
      cmd("worker-2", "restart"),
    ];
    assert.deepEqual(hostByHost(a, hosts), want);
    assert.deepEqual(hostByHost(b, hosts), want);
    const joined = [etcd("add-learner"), cmd("worker-2", "x"), cmd("lb", "y"), etcd("promote")];
    assert.deepEqual(hostByHost(joined, hosts), [
      etcd("add-learner"),
      cmd("lb", "y"),
      cmd("worker-2", "x"),
      etcd("promote"),
    ]);
    // A host the list does not name goes last, still in its own order.
    assert.deepEqual(hostByHost([cmd("other", "1"), cmd("lb", "2"), cmd("other", "3")], hosts), [
      cmd("lb", "2"),
      cmd("other", "1"),
      cmd("other", "3"),
    ]);
  });
});
