// The real flavour: kubeadm v1.37.2 makes the primary, the real etcd 3.7 and control plane run it,
// and kubeha converts it; checked with etcdctl 3.7 and kubectl 1.37 (scripts/build-kubernetes.sh).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { parse } from "yaml";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { labCache, REAL_VERSION, realBinaries } from "./kubeadm-init.js";
import { kubeha, kubehaKilledAt } from "./kubeha.js";
import { labSkip, skipUnlessCi } from "../helpers/skip.js";

function missing(): string | false {
  try {
    realBinaries();
    return false;
  } catch (e) {
    return `the real flavour needs the built binaries (scripts/build-kubernetes.sh): ${(e as Error).message}`;
  }
}
const skip = labSkip() || skipUnlessCi(missing());

/** The files `kubeadm upgrade node --dry-run` would write into the manifests directory, parsed. */
function dryRunManifests(output: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const lines = output.split("\n");
  for (let i = 0; i < lines.length; i++) {
    // kubeadm prints the first of these right after a message without a newline.
    const m = /\[dryrun\] Would write file "\/etc\/kubernetes\/manifests\/(\S+)" with content:$/.exec(
      lines[i]!,
    );
    if (!m) continue;
    const body: string[] = [];
    // The content ends at kubeadm's next message or klog line.
    while (i + 1 < lines.length && !/^(\[|[IWE]\d{4} )/.test(lines[i + 1]!)) body.push(lines[++i]!);
    out.set(m[1]!, parse(body.join("\n")));
  }
  return out;
}

/** A manifest with every list sorted: "no change other than ordering". */
function unordered(v: unknown): unknown {
  if (Array.isArray(v))
    return v.map(unordered).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  if (v && typeof v === "object")
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unordered(x)]));
  return v;
}

const bin = (name: string): string =>
  name.startsWith("etcd")
    ? join(labCache(), "etcd-v3.7.0/bin", name)
    : join(labCache(), `kubernetes-v${REAL_VERSION}/bin`, name);

function kubectl(lab: Lab, server: string, ...args: string[]) {
  return lab.wsExec([
    bin("kubectl"),
    "--kubeconfig",
    lab.adminKubeconfig,
    `--server=https://${server}:6443`,
    "--request-timeout=10s",
    `--cache-dir=${join(lab.dir, "kubectl-cache")}`,
    ...args,
  ]);
}

function etcdctl(lab: Lab, endpoints: string[], ...args: string[]) {
  const pki = join(lab.dir, "h/master-1/etc-kubernetes/pki");
  return lab.wsExec([
    bin("etcdctl"),
    `--endpoints=${endpoints.map((a) => `https://${a}:2379`).join(",")}`,
    `--cacert=${pki}/etcd/ca.crt`,
    `--cert=${pki}/etcd/healthcheck-client.crt`,
    `--key=${pki}/etcd/healthcheck-client.key`,
    ...args,
  ]);
}

/** etcd's members as etcdctl lists them, by host (a learner that never started has only its peer URL). */
async function members(lab: Lab): Promise<{ voters: string[]; learners: string[] }> {
  const r = await etcdctl(lab, [lab.primary.address], "member", "list", "-w", "json");
  assert.equal(r.code, 0, r.stderr);
  const list = (JSON.parse(r.stdout) as { members: { peerURLs?: string[]; isLearner?: boolean }[] }).members;
  const host = (m: { peerURLs?: string[] }) =>
    lab.hosts.find((h) => m.peerURLs?.includes(`https://${h.address}:2380`))?.name ?? `${m.peerURLs}`;
  const names = (learner: boolean) =>
    list
      .filter((m) => !!m.isLearner === learner)
      .map(host)
      .sort();
  return { voters: names(false), learners: names(true) };
}

/** Keys in etcd at `rev` (default: now) as one member has them, and the revision read at. */
async function keyCount(
  lab: Lab,
  address: string,
  rev?: number,
): Promise<{ count: number; revision: number }> {
  const r = await etcdctl(
    lab,
    [address],
    "get",
    "",
    "--from-key",
    "--count-only",
    "--consistency=s",
    ...(rev ? [`--rev=${rev}`] : []),
    // etcdctl 3.7 prints a count only with -w fields.
    "-w",
    "fields",
  );
  assert.equal(r.code, 0, `${address}: ${r.stderr}`);
  const field = (name: string): number => {
    const m = new RegExp(`^"${name}" : (\\d+)$`, "m").exec(r.stdout);
    assert.ok(m, `${address}: no ${name} in ${r.stdout}`);
    return Number(m[1]);
  };
  return { count: field("Count"), revision: field("Revision") };
}

const APP_NS = "lab-app";
const secretValue = (): string => randomBytes(18).toString("base64");

/**
 * An application as a user would have it: a Deployment, two Services, three Secrets (one binary), a
 * ConfigMap; the secret values are random, so only what was stored can be read back.
 */
function appObjects(): object[] {
  const meta = (name: string) => ({ name, namespace: APP_NS, labels: { "lab.kubeha.io/app": "web" } });
  const b64 = (s: string | Buffer) => Buffer.from(s).toString("base64");
  return [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: APP_NS } },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta("web-config"),
      data: { "app.properties": "mode=ha\nreplicas=2\n", greeting: `hello ${secretValue()}` },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta("web-credentials"),
      type: "Opaque",
      data: { username: b64("web"), password: b64(secretValue()) },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta("web-tls"),
      type: "kubernetes.io/tls",
      data: { "tls.crt": b64(`cert ${secretValue()}`), "tls.key": b64(`key ${secretValue()}`) },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: meta("web-binary"),
      type: "Opaque",
      data: { blob: randomBytes(4096).toString("base64") },
    },
    {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: meta("web"),
      spec: {
        replicas: 2,
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: {
            containers: [
              {
                name: "web",
                image: "registry.k8s.io/pause:3.10.1",
                ports: [{ containerPort: 8080 }],
                envFrom: [
                  { secretRef: { name: "web-credentials" } },
                  { configMapRef: { name: "web-config" } },
                ],
              },
            ],
          },
        },
      },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta("web"),
      spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
    },
    {
      apiVersion: "v1",
      kind: "Service",
      metadata: meta("web-nodeport"),
      spec: { type: "NodePort", selector: { app: "web" }, ports: [{ port: 8080, targetPort: 8080 }] },
    },
  ];
}

interface Item {
  kind: string;
  metadata: { name: string; uid: string; resourceVersion: string; generation?: number };
  spec?: unknown;
  data?: unknown;
  binaryData?: unknown;
  type?: string;
}

/**
 * The application's objects as one apiserver serves them: uid, resourceVersion and content. A
 * Deployment's resourceVersion moves with its status (the controller-manager writes it): its uid,
 * generation and spec stand for it.
 */
async function appState(lab: Lab, server: string): Promise<Record<string, unknown>> {
  const r = await kubectl(
    lab,
    server,
    "get",
    "deployments,services,secrets,configmaps",
    "-n",
    APP_NS,
    "-l",
    "lab.kubeha.io/app=web",
    "-o",
    "json",
  );
  assert.equal(r.code, 0, `${server}: ${r.stderr}`);
  const items = (JSON.parse(r.stdout) as { items: Item[] }).items;
  return Object.fromEntries(
    items.map((o) => [
      `${o.kind}/${o.metadata.name}`,
      o.kind === "Deployment"
        ? { uid: o.metadata.uid, generation: o.metadata.generation, spec: o.spec }
        : {
            uid: o.metadata.uid,
            resourceVersion: o.metadata.resourceVersion,
            ...(o.kind === "Service"
              ? { spec: o.spec }
              : { type: o.type, data: o.data, binaryData: o.binaryData }),
          },
    ]),
  );
}

/** The leader Leases' holders as one apiserver serves them ("" while a lease is not there). */
async function leaseHolders(lab: Lab, server: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const lease of ["kube-controller-manager", "kube-scheduler"]) {
    const r = await kubectl(
      lab,
      server,
      "get",
      "lease",
      "-n",
      "kube-system",
      lease,
      "-o",
      "jsonpath={.spec.holderIdentity}",
    );
    out[lease] = r.code === 0 ? r.stdout : "";
  }
  return out;
}

describe("real flavour", { skip, timeout: 1_200_000 }, () => {
  let lab: Lab;
  /** What the primary served before the conversion: the application, etcd's key count. */
  let app: Record<string, unknown>;
  let keysBefore: number;
  before(async () => {
    lab = await startLab({ kubernetes: "real", workers: 1, bulkKeys: 500, spares: 1 });
    const r = await lab.wsExec(
      [
        bin("kubectl"),
        "--kubeconfig",
        lab.adminKubeconfig,
        `--cache-dir=${join(lab.dir, "kubectl-cache")}`,
        "create",
        "-f",
        "-",
      ],
      { stdin: JSON.stringify({ apiVersion: "v1", kind: "List", items: appObjects() }) },
    );
    assert.equal(r.code, 0, r.stderr);
    app = await appState(lab, lab.primary.address);
    assert.equal(Object.keys(app).length, 7, JSON.stringify(Object.keys(app)));
    keysBefore = (await keyCount(lab, lab.primary.address)).count;
  });
  after(async () => {
    await lab?.stop();
  });

  test("kubeadm made the primary and the real control plane runs it", async () => {
    const manifests = join(lab.dir, "h/master-1/etc-kubernetes/manifests");
    assert.match(
      await readFile(join(manifests, "etcd.yaml"), "utf8"),
      /image: registry\.k8s\.io\/etcd:3\.7\.0-0/,
    );
    const version = await kubectl(lab, lab.primary.address, "get", "--raw", "/version");
    assert.equal(version.code, 0, version.stderr);
    assert.equal((JSON.parse(version.stdout) as { gitVersion: string }).gitVersion, `v${REAL_VERSION}`);
    // kubeadm's mark-control-plane labelled the Node the stand-in registered with its own credentials.
    const node = await kubectl(lab, lab.primary.address, "get", "node", "master-1", "-o", "json");
    assert.equal(node.code, 0, node.stderr);
    const n = JSON.parse(node.stdout) as {
      metadata: { labels: Record<string, string> };
      status: { nodeInfo: { kubeletVersion: string } };
    };
    assert.ok(
      "node-role.kubernetes.io/control-plane" in n.metadata.labels,
      JSON.stringify(n.metadata.labels),
    );
    assert.equal(n.status.nodeInfo.kubeletVersion, `v${REAL_VERSION}`);
    // Each component takes its leader lease once it has synced its informers: poll, up to 60 s.
    let holders: Record<string, string> = {};
    for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
      holders = await leaseHolders(lab, lab.primary.address);
      if (Object.values(holders).every(Boolean)) break;
      await new Promise((done) => setTimeout(done, 500));
    }
    for (const [lease, holder] of Object.entries(holders))
      assert.match(holder, /^master-1_/, `${lease} held by "${holder}"`);
  });

  test("apply killed right after master-2's etcd learner is added leaves it resumable", async () => {
    const r = await kubehaKilledAt(
      lab,
      ["apply", "--yes", "-i", lab.inventoryFile],
      /\[master-2\] etcd: learner added/,
      "SIGKILL",
      600_000,
    );
    assert.ok(r.killed, `the run never added master-2's learner:\n${r.stdout}`);
    assert.equal(r.code, 137, r.stdout);
    const journal = JSON.parse(await readFile(join(lab.stateDir, "journal.json"), "utf8")) as {
      runs: { finished?: string; steps: { id: string; outcome: string }[] }[];
    };
    const last = journal.runs.at(-1);
    assert.ok(last && last.finished === undefined, "the killed run's journal entry is not finished");
    // Started, never finished (master-3's certificates may have been written meanwhile).
    const outcome = new Map(last.steps.map((s) => [s.id, s.outcome]));
    assert.equal(outcome.get("etcd/master-2"), "started", JSON.stringify(last.steps));
    // etcd 3.7: master-1 the only voter, master-2 a learner (started or not); quorum intact.
    assert.deepEqual(await members(lab), { voters: ["master-1"], learners: ["master-2"] });
    const health = await etcdctl(lab, [lab.primary.address], "endpoint", "health");
    assert.equal(health.code, 0, health.stdout + health.stderr);
  });

  test("apply again resumes and converts; kubectl sees three apiservers sharing the ServiceAccount key", async () => {
    const r = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile], { timeoutMs: 600_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /already done/);
    assert.match(r.stdout + r.stderr, /all \d+ checks passed/);
    const pki = join(lab.dir, "h/master-1/etc-kubernetes/pki");
    // A ServiceAccount token issued by one apiserver is accepted by the others (shared sa.key).
    const token = await kubectl(lab, lab.masters[0]!.address, "create", "token", "default", "-n", "default");
    assert.equal(token.code, 0, token.stderr);
    for (const m of [lab.primary, ...lab.masters]) {
      const who = await lab.wsExec([
        bin("kubectl"),
        "--kubeconfig=/dev/null",
        `--server=https://${m.address}:6443`,
        `--certificate-authority=${pki}/ca.crt`,
        `--token=${token.stdout.trim()}`,
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
      ]);
      assert.equal(who.code, 0, `${m.name}: ${who.stderr}`);
      assert.equal(who.stdout, "system:serviceaccount:default:default", m.name);
    }
  });

  test("etcdctl 3.7: three voters, every endpoint healthy, equal hashkv at one revision, every key kept", async () => {
    assert.deepEqual(await members(lab), { voters: ["master-1", "master-2", "master-3"], learners: [] });
    const all = [lab.primary, ...lab.masters].map((m) => m.address);
    const status = await etcdctl(lab, all, "endpoint", "status", "-w", "json");
    assert.equal(status.code, 0, status.stdout + status.stderr);
    const st = JSON.parse(status.stdout) as {
      Endpoint: string;
      Status: { header: { member_id: number }; leader: number; raftAppliedIndex: number };
    }[];
    assert.equal(st.length, 3);
    // One leader, the same for all, itself a member; no member behind by much.
    const leaders = new Set(st.map((x) => String(x.Status.leader)));
    assert.equal(leaders.size, 1, JSON.stringify(st));
    assert.ok(
      st.some((x) => String(x.Status.header.member_id) === [...leaders][0]),
      "the leader answered",
    );
    const applied = st.map((x) => x.Status.raftAppliedIndex);
    assert.ok(Math.max(...applied) - Math.min(...applied) < 100, `applied indexes ${applied.join(", ")}`);
    // One revision every member has applied; hashkv and key count there, on each member's own data.
    const rev = Math.min(...(await Promise.all(all.map(async (a) => (await keyCount(lab, a)).revision))));
    const hashes: number[] = [];
    const counts: number[] = [];
    for (const a of all) {
      const h = await etcdctl(lab, [a], "endpoint", "hashkv", `--rev=${rev}`, "-w", "json");
      assert.equal(h.code, 0, `${a}: ${h.stderr}`);
      const [x] = JSON.parse(h.stdout) as { HashKV: { hash: number; hash_revision: number } }[];
      assert.equal(x!.HashKV.hash_revision, rev, a);
      hashes.push(x!.HashKV.hash);
      counts.push((await keyCount(lab, a, rev)).count);
    }
    assert.equal(new Set(hashes).size, 1, `hashkv at ${rev}: ${hashes.join(", ")}`);
    assert.equal(new Set(counts).size, 1, `keys at ${rev}: ${counts.join(", ")}`);
    assert.ok(counts[0]! >= keysBefore, `${counts[0]} keys at ${rev}, ${keysBefore} before the conversion`);
  });

  test("the application is served unchanged through the LB and by each apiserver; a write through one is read through the others", async () => {
    const servers = [lab.lb, lab.primary, ...lab.masters];
    for (const s of servers) assert.deepEqual(await appState(lab, s.address), app, `through ${s.name}`);
    for (const s of servers) {
      const bulk = await kubectl(lab, s.address, "get", "configmaps", "-n", "lab-data", "-o", "name");
      assert.equal(bulk.code, 0, bulk.stderr);
      // The bulk ConfigMaps, not the controller-manager's kube-root-ca.crt in every namespace.
      assert.equal(
        bulk.stdout.split("\n").filter((n) => n.startsWith("configmap/app-config-")).length,
        lab.fixture.filledKeys,
        `lab-data through ${s.name}`,
      );
    }
    for (const w of [lab.primary, ...lab.masters]) {
      const name = `written-through-${w.name}`;
      const value = secretValue();
      const c = await kubectl(
        lab,
        w.address,
        "create",
        "secret",
        "generic",
        name,
        "-n",
        APP_NS,
        `--from-literal=value=${value}`,
        "-o",
        "json",
      );
      assert.equal(c.code, 0, `${w.name}: ${c.stderr}`);
      const created = JSON.parse(c.stdout) as Item;
      for (const r of servers.filter((s) => s !== w)) {
        const g = await kubectl(lab, r.address, "get", "secret", name, "-n", APP_NS, "-o", "json");
        assert.equal(g.code, 0, `${name} through ${r.name}: ${g.stderr}`);
        const got = JSON.parse(g.stdout) as Item;
        assert.equal(got.metadata.uid, created.metadata.uid, `${name} through ${r.name}`);
        assert.equal(
          got.metadata.resourceVersion,
          created.metadata.resourceVersion,
          `${name} through ${r.name}`,
        );
        assert.deepEqual(
          got.data,
          { value: Buffer.from(value).toString("base64") },
          `${name} through ${r.name}`,
        );
      }
    }
  });

  test("kubeadm upgrade plan: health checks pass and the configuration names the load balancer", async () => {
    // CreateJob needs a kubelet that runs pods; every other check (control-plane nodes Ready, static
    // pod manifests, etcd) is kubeadm's own.
    const r = await lab.exec("master-1", [
      bin("kubeadm"),
      "upgrade",
      "plan",
      `v${REAL_VERSION}`,
      "--ignore-preflight-errors=CreateJob",
      "--print-config",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const text = r.stdout + r.stderr;
    assert.match(text, /\[upgrade\] Running cluster health checks/);
    assert.match(text, new RegExp(`controlPlaneEndpoint: ${lab.lb.address.replace(/\./g, "\\.")}:6443`));
    assert.match(text, new RegExp(`Cluster version: ${REAL_VERSION.replace(/\./g, "\\.")}`));
  });

  test("kubeadm upgrade node --dry-run on the new masters proposes kubeha's manifests unchanged", async (t) => {
    for (const m of lab.masters) {
      const r = await lab.exec(m.name, [
        bin("kubeadm"),
        "upgrade",
        "node",
        "--dry-run",
        // No cgroup hierarchy or CRI socket in a lab host: the kubelet and runtime are stand-ins.
        "--ignore-preflight-errors=SystemVerification,ContainerRuntimeVersion",
      ]);
      assert.equal(r.code, 0, `${m.name}: ${r.stdout}${r.stderr}`);
      const proposed = dryRunManifests(r.stdout);
      assert.deepEqual(
        [...proposed.keys()].sort(),
        ["kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml"],
        m.name,
      );
      for (const [file, manifest] of proposed) {
        const ours = parse(
          await readFile(join(lab.dir, `h/${m.name}/etc-kubernetes/manifests`, file), "utf8"),
        ) as unknown;
        assert.deepEqual(unordered(manifest), unordered(ours), `${m.name}: ${file}`);
      }
      // The one difference kubeadm reports: its control-plane kubelets talk to their own apiserver.
      const kubelet = /Would change the Server URL .* in \/etc\/kubernetes\/kubelet\.conf/.exec(r.stdout);
      if (kubelet) t.diagnostic(`${m.name}: ${kubelet[0]}`);
    }
  });

  test("kubeadm certs check-expiration on every master finds every certificate and kubeconfig", async () => {
    const expected = [
      "admin.conf",
      "apiserver",
      "apiserver-etcd-client",
      "apiserver-kubelet-client",
      "controller-manager.conf",
      "etcd-healthcheck-client",
      "etcd-peer",
      "etcd-server",
      "front-proxy-client",
      "scheduler.conf",
    ];
    for (const m of [lab.primary, ...lab.masters]) {
      const r = await lab.exec(m.name, [bin("kubeadm"), "certs", "check-expiration"]);
      assert.equal(r.code, 0, `${m.name}: ${r.stderr}`);
      // Without mirror pods kubeadm cannot find the apiserver's endpoint and falls back to defaults.
      assert.doesNotMatch(r.stdout + r.stderr, /Error reading configuration from the Cluster/, m.name);
      for (const c of expected)
        assert.match(r.stdout, new RegExp(`^${c.replace(".", "\\.")} .* no\\s*$`, "m"), `${m.name}: ${c}`);
    }
  });

  test("verify --failover: writes go on, and the controller-manager and scheduler leases move off the stopped primary", async () => {
    const before = await leaseHolders(lab, lab.lb.address);
    for (const [lease, holder] of Object.entries(before))
      assert.match(holder, /^master-[123]_/, `${lease} is held before the failover`);
    const r = await kubeha(lab, ["verify", "--failover", "-i", lab.inventoryFile], { timeoutMs: 400_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /✓ failover: write through the LB/);
    assert.match(r.stdout, /✓ failover: etcd leader: leader/);
    assert.match(r.stdout, /✓ failover: restored/);
    const after = await leaseHolders(lab, lab.lb.address);
    for (const [lease, holder] of Object.entries(before)) {
      // A lease the primary's component held moves to another master's; one held elsewhere stays.
      const line = new RegExp(
        holder.startsWith("master-1_")
          ? `✓ failover: ${lease} leader: moved from ${holder} to master-[23]_`
          : `✓ failover: ${lease} leader: stayed with ${holder}`,
      );
      assert.match(r.stdout, line, lease);
      assert.doesNotMatch(after[lease]!, /^master-1_/, `${lease} after the failover`);
      assert.match(after[lease]!, /^master-[23]_/, `${lease} after the failover`);
    }
    console.log(
      r.stdout
        .split("\n")
        .filter((x) => x.includes("failover"))
        .join("\n"),
    );
    assert.deepEqual(await appState(lab, lab.lb.address), app, "the application after the failover");
  });

  test("kubeadm join --control-plane adds a fourth master through the LB: etcd member, apiserver, Node", async () => {
    const m4 = lab.host("master-4");
    // The shared certificates (encrypted with a new key) and a bootstrap token, as an operator does.
    const upload = await lab.exec("master-1", [
      bin("kubeadm"),
      "init",
      "phase",
      "upload-certs",
      "--upload-certs",
      "--config",
      join(lab.primary.dir, "kubeadm.yaml"),
    ]);
    assert.equal(upload.code, 0, upload.stdout + upload.stderr);
    const key = /^([0-9a-f]{64})$/m.exec(upload.stdout)?.[1];
    assert.ok(key, upload.stdout);
    const print = await lab.exec("master-1", [bin("kubeadm"), "token", "create", "--print-join-command"]);
    assert.equal(print.code, 0, print.stderr);
    const cmd = /kubeadm join (\S+) --token (\S+) --discovery-token-ca-cert-hash (\S+)/.exec(print.stdout);
    assert.ok(cmd, print.stdout);
    // kubeadm's own join command names the load balancer kubeha made the controlPlaneEndpoint.
    assert.equal(cmd[1], `${lab.lb.address}:6443`);
    const config = join(m4.dir, "join.yaml");
    await writeFile(
      config,
      `apiVersion: kubeadm.k8s.io/v1beta4
kind: JoinConfiguration
discovery:
  bootstrapToken:
    apiServerEndpoint: ${cmd[1]}
    token: ${cmd[2]}
    caCertHashes: [${cmd[3]}]
nodeRegistration:
  name: ${m4.name}
  criSocket: unix:///run/containerd/containerd.sock
controlPlane:
  localAPIEndpoint:
    advertiseAddress: ${m4.address}
    bindPort: 6443
  certificateKey: ${key}
`,
      { mode: 0o600 },
    );
    const r = await lab.exec("master-4", [
      bin("kubeadm"),
      "join",
      "--config",
      config,
      // No cgroup hierarchy, CRI socket or image store in a lab host: the kubelet and runtime are stand-ins.
      "--ignore-preflight-errors=SystemVerification,ContainerRuntimeVersion,CRI,ImagePull",
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /This node has joined the cluster and a new control plane instance was created/);
    const { voters, learners } = await members(lab);
    assert.deepEqual(
      { voters, learners },
      { voters: ["master-1", "master-2", "master-3", "master-4"], learners: [] },
    );
    const node = await kubectl(lab, m4.address, "get", "node", m4.name, "-o", "json");
    assert.equal(node.code, 0, node.stderr);
    const labels = (JSON.parse(node.stdout) as { metadata: { labels: Record<string, string> } }).metadata
      .labels;
    assert.ok("node-role.kubernetes.io/control-plane" in labels, JSON.stringify(labels));
    assert.deepEqual(await appState(lab, m4.address), app, "the application through master-4's apiserver");
  });
});
