// The real flavour: kubeadm v1.37.2 makes the primary, the real etcd 3.7 and control plane run it,
// and kubeha converts it; checked with etcdctl 3.7 and kubectl 1.37 (scripts/build-kubernetes.sh).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { parse } from "yaml";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { labCache, REAL_VERSION, realBinaries } from "./kubeadm-init.js";
import { kubeha } from "./kubeha.js";
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

describe("real flavour", { skip, timeout: 900_000 }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab({ kubernetes: "real", workers: 1, bulkKeys: 500 });
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
    for (const lease of ["kube-controller-manager", "kube-scheduler"]) {
      let holder = "";
      let last = "";
      for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
        const r = await kubectl(
          lab,
          lab.primary.address,
          "get",
          "lease",
          "-n",
          "kube-system",
          lease,
          "-o",
          "json",
        );
        last = r.stderr;
        holder =
          r.code === 0
            ? ((JSON.parse(r.stdout) as { spec: { holderIdentity?: string } }).spec.holderIdentity ?? "")
            : "";
        if (holder) break;
        await new Promise((done) => setTimeout(done, 500));
      }
      assert.match(holder, /^master-1_/, `${lease} held by "${holder}" ${last}`);
    }
  });

  test("kubeha converts it; etcdctl and kubectl see three members and three apiservers", async () => {
    const r = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile], { timeoutMs: 600_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /all \d+ checks passed/);
    const pki = join(lab.dir, "h/master-1/etc-kubernetes/pki");
    const list = await lab.wsExec([
      bin("etcdctl"),
      `--endpoints=https://${lab.primary.address}:2379`,
      `--cacert=${pki}/etcd/ca.crt`,
      `--cert=${pki}/etcd/healthcheck-client.crt`,
      `--key=${pki}/etcd/healthcheck-client.key`,
      "member",
      "list",
      "-w",
      "json",
    ]);
    assert.equal(list.code, 0, list.stderr);
    const members = (JSON.parse(list.stdout) as { members: { name?: string; isLearner?: boolean }[] })
      .members;
    assert.deepEqual(members.map((m) => m.name).sort(), ["master-1", "master-2", "master-3"]);
    assert.ok(
      members.every((m) => !m.isLearner),
      "no learner left",
    );
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
});
