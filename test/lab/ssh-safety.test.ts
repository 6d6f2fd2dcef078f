// The SSH transport's refusals and bounds against the lab, through the real CLI: a worker whose host key
// changed or is unknown stops `apply` before any change (exit 2), while a worker that cannot be reached
// at all is still deferred; an identity file kubeha cannot use is refused (exit 2) before any host is
// contacted; a link cut in the middle of a run is shown on the progress line and ends the run after
// ssh.stallTimeoutSeconds. Root only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { copyFile, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { labSkip } from "../helpers/skip.js";
import { hostEntry, inventoryVariant, kubeha, kubehaActingAt } from "./kubeha.js";

const skip = labSkip();

describe("SSH: host keys, identity files and stalled links", { skip, timeout: 600_000 }, () => {
  let lab: Lab | undefined;
  const L = (): Lab => {
    if (!lab) throw new Error("lab did not start");
    return lab;
  };

  before(async () => {
    lab = await startLab({ workers: 2, bulkKeys: 200 });
  });
  after(async () => {
    await lab?.stop();
  });

  /** A copy of the lab's known_hosts without `host`'s entries (hashed ones too), plus `extra` lines. */
  const knownHostsVariant = async (name: string, host: string, extra: string[] = []): Promise<string> => {
    const file = join(L().dir, `known_hosts-${name}`);
    await copyFile(L().knownHostsFile, file);
    execFileSync("ssh-keygen", ["-R", L().host(host).address, "-f", file], { stdio: "ignore" });
    await writeFile(file, (await readFile(file, "utf8")) + extra.map((l) => `${l}\n`).join(""));
    return file;
  };

  /** What a run must not have touched: etcd members, the LB's nginx, every kubelet.conf, the Nodes. */
  const snapshot = async (): Promise<string> => {
    const l = L();
    const pki = join(l.dir, "h", "master-1", "etc-kubernetes", "pki", "etcd");
    const members = await l.wsExec([
      "etcdctl",
      `--endpoints=https://${l.primary.address}:2379`,
      `--cacert=${pki}/ca.crt`,
      `--cert=${pki}/healthcheck-client.crt`,
      `--key=${pki}/healthcheck-client.key`,
      "member",
      "list",
    ]);
    assert.equal(members.code, 0, members.stderr);
    const nodes = await l.wsExec([
      "kubectl",
      "--kubeconfig",
      l.adminKubeconfig,
      "get",
      "nodes",
      "-o",
      "custom-columns=NAME:.metadata.name,LABELS:.metadata.labels,TAINTS:.spec.taints",
    ]);
    assert.equal(nodes.code, 0, nodes.stderr);
    const nginx = await l.exec("lb", ["sh", "-c", "cat /etc/nginx/nginx.conf; ls -A /etc/nginx/stream.d"]);
    const kubelets = await Promise.all(
      l.hosts
        .filter((h) => h.role !== "loadBalancer")
        .map(async (h) => (await l.exec(h.name, ["cat", "/etc/kubernetes/kubelet.conf"])).stdout),
    );
    const manifests = await l.exec("master-2", ["ls", "-A", "/etc/kubernetes/manifests"]);
    return [members.stdout, nodes.stdout, nginx.stdout, ...kubelets, manifests.stdout].join("\n---\n");
  };

  test("a worker whose host key changed stops apply before any change, exit 2, naming it", async () => {
    const l = L();
    const before = await snapshot();
    // worker-1's entry now holds worker-2's key: what a man in the middle would look like.
    const other = (await readFile(join(l.dir, "h", "worker-2", "ssh", "ssh_host_ed25519_key.pub"), "utf8"))
      .trim()
      .split(/\s+/)
      .slice(0, 2)
      .join(" ");
    const known = await knownHostsVariant("changed", "worker-1", [`${l.host("worker-1").address} ${other}`]);
    const inv = await inventoryVariant(l, "changed-key", (i) => {
      i.ssh.knownHostsFile = known;
    });
    const r = await kubeha(l, ["apply", "--yes", "-i", inv]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /host worker-1 \(\S+\): host key mismatch: .*possible man-in-the-middle/);
    assert.doesNotMatch(r.stdout + r.stderr, /skipped|the other hosts go on|backup to/);
    assert.equal(await snapshot(), before);
    assert.equal(existsSync(join(l.stateDir, "backups")), false, "no backup: nothing was about to change");
  });

  test("a worker whose host key is unknown stops apply before any change, exit 2, naming it", async () => {
    const l = L();
    const before = await snapshot();
    const known = await knownHostsVariant("unknown", "worker-2");
    const inv = await inventoryVariant(l, "unknown-key", (i) => {
      i.ssh.knownHostsFile = known;
    });
    const r = await kubeha(l, ["apply", "--yes", "-i", inv]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /host worker-2 \(\S+\): host key unknown: server offered SHA256:\S+/);
    assert.equal(await snapshot(), before);
  });

  test("a master whose host key is unknown is refused with exit 2 too", async () => {
    const l = L();
    const known = await knownHostsVariant("unknown-master", "master-3");
    const inv = await inventoryVariant(l, "unknown-master-key", (i) => {
      i.ssh.knownHostsFile = known;
    });
    const r = await kubeha(l, ["plan", "-i", inv]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /host master-3 \(\S+\): host key unknown/);
  });

  test("a worker that cannot be reached at all is still deferred: plan goes on and names it", async () => {
    const l = L();
    const down = await l.exec("worker-2", ["ip", "link", "set", "eth0", "down"]);
    assert.equal(down.code, 0, down.stderr);
    try {
      const r = await kubeha(l, ["plan", "-i", l.inventoryFile]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout + r.stderr, /worker-2: cannot connect \(host worker-2 .*timed out/);
    } finally {
      await l.exec("worker-2", ["ip", "link", "set", "eth0", "up"]);
    }
  });

  test("an identity file that is not a private key: exit 2 before any host is contacted, naming file and field", async () => {
    const l = L();
    const notAKey = join(l.dir, "not-a-key");
    await writeFile(notAKey, "this is not a private key\n", { mode: 0o600 });
    const inv = await inventoryVariant(l, "not-a-key", (i) => {
      hostEntry(i, "worker-1").ssh = { ...hostEntry(i, "worker-1").ssh, identityFile: notAKey };
    });
    const r = await kubeha(l, ["plan", "-i", inv]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`workers\\[0\\]\\.ssh\\.identityFile: identity file ${notAKey} is not a private key`),
    );
    assert.doesNotMatch(r.stdout + r.stderr, /connecting to/);
  });

  test("an encrypted identity file without an agent: exit 2 before any host is contacted", async () => {
    const l = L();
    const encrypted = join(l.dir, "encrypted-key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "secret phrase", "-f", encrypted]);
    const inv = await inventoryVariant(l, "encrypted-key", (i) => {
      i.ssh.identityFile = encrypted;
    });
    const r = await kubeha(l, ["plan", "-i", inv]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, new RegExp(`ssh\\.identityFile: identity file ${encrypted} is encrypted`));
    assert.doesNotMatch(r.stdout + r.stderr, /connecting to/);
  });

  test("a link cut mid-run: the progress line names host and operation, the run ends after the bound", async () => {
    const l = L();
    const BOUND = 3;
    const inv = await inventoryVariant(l, "stall", (i) => {
      const lb = hostEntry(i, "lb");
      lb.ssh = { ...lb.ssh, stallTimeoutSeconds: BOUND };
    });
    // The load balancer's step comes right after the backup: cut its link while the backup runs.
    let cutAt = 0;
    const r = await kubehaActingAt(l, ["apply", "--yes", "-i", inv], /backup to /, async () => {
      const down = await l.exec("lb", ["ip", "link", "set", "eth0", "down"]);
      assert.equal(down.code, 0, down.stderr);
      cutAt = Date.now();
    });
    const end = Date.now();
    await l.exec("lb", ["ip", "link", "set", "eth0", "up"]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.ok(cutAt > 0, "the link was cut");
    assert.match(r.stdout, /\[lb\] waiting for (`[^`]+`|write \S+|read \S+) \(\d+s\)/);
    assert.match(
      r.stderr,
      new RegExp(
        `host lb \\(\\S+\\): (\`[^\`]+\`|write \\S+|read \\S+): no answer from the host for ${BOUND}s \\(ssh\\.stallTimeoutSeconds\\)`,
      ),
    );
    console.log(
      [...r.stdout.split("\n").filter((x) => x.includes("waiting for")), r.stderr.trim()].join("\n"),
    );
    const secs = (end - cutAt) / 1000;
    console.log(`run ended ${secs.toFixed(1)}s after the cut (bound ${BOUND}s)`);
    assert.ok(secs < BOUND + 20, `the run took ${secs.toFixed(1)}s after the cut`);
  });
});
