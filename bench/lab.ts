// Benchmark against the standard tools, side by side in one run, on a lab (root):
//   node dist/bench/lab.js [iterations]
// 1. remote commands: kubeha's one reused SSH connection vs the `ssh` CLI (a connection per command);
// 2. etcd snapshot: kubeha (etcd3 client through an SSH-forwarded port) vs `etcdctl snapshot save` direct;
// 3. etcd member list: kubeha (forwarded, one client) vs `etcdctl member list` direct.
import { execFileSync, spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import "../src/ui/quiet-warnings.js";
import { loadInventory } from "../src/inventory/index.js";
import { SshHost } from "../src/ssh/index.js";
import { ClusterAccess } from "../src/discover/access.js";
import { saveSnapshot } from "../src/etcd/snapshot.js";
import { withEndpoint } from "../src/etcd/client.js";
import { listMembers } from "../src/etcd/members.js";

const iterations = Number(process.argv[2] ?? 5);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const time = async (fn: () => unknown): Promise<number> => {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
};
async function sample(fn: () => unknown): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < iterations; i++) xs.push(await time(fn));
  return median(xs);
}
function row(what: string, kubeha: number, tool: number, toolName: string): string {
  return `${what.padEnd(38)} kubeha ${kubeha.toFixed(1).padStart(8)} ms   ${toolName.padEnd(28)} ${tool.toFixed(1).padStart(8)} ms   ${(tool / kubeha).toFixed(2)}x`;
}

/** Runs inside the lab's workstation namespace. */
async function inner(labDir: string): Promise<void> {
  const inv = await loadInventory(join(labDir, "inventory.yaml"));
  const p = inv.primary;
  const primary = await SshHost.connect(p);
  const pki = join(labDir, "h", p.name, "etc-kubernetes", "pki", "etcd");
  const etcdctl = (...args: string[]) =>
    execFileSync(
      "etcdctl",
      [
        `--endpoints=https://${p.address}:2379`,
        `--cacert=${pki}/ca.crt`,
        `--cert=${pki}/healthcheck-client.crt`,
        `--key=${pki}/healthcheck-client.key`,
        ...args,
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
  const ssh = (cmd: string) =>
    spawnSync("ssh", [
      "-i",
      p.ssh.identityFile!,
      "-o",
      `UserKnownHostsFile=${p.ssh.knownHostsFile}`,
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      "BatchMode=yes",
      `${p.ssh.user}@${p.address}`,
      cmd,
    ]);
  const n = 20;
  const lines: string[] = [];
  lines.push(
    row(
      `${n} commands, one after another`,
      await sample(async () => {
        for (let i = 0; i < n; i++) await primary.exec(["true"], { sudo: false });
      }),
      await sample(() => {
        for (let i = 0; i < n; i++) ssh("true");
      }),
      "ssh CLI (new connection each)",
    ),
  );
  lines.push(
    row(
      `${n} commands, 6 at a time`,
      await sample(() =>
        Promise.all(Array.from({ length: n }, () => primary.exec(["true"], { sudo: false }))),
      ),
      await sample(() => {
        for (let i = 0; i < n; i++) ssh("true");
      }),
      "ssh CLI (new connection each)",
    ),
  );
  const access = await ClusterAccess.open(primary, "/etc/kubernetes/pki");
  const endpoint = await access.etcdEndpoint(primary);
  const snap = join(labDir, "bench-snapshot.db");
  lines.push(
    row(
      "etcd snapshot (~6 MB)",
      await sample(async () => {
        rmSync(snap, { force: true });
        await saveSnapshot(endpoint, access.etcdTls, snap);
      }),
      await sample(() => {
        rmSync(snap, { force: true });
        etcdctl("snapshot", "save", snap);
      }),
      "etcdctl snapshot save (direct)",
    ),
  );
  lines.push(
    row(
      "etcd member list",
      await sample(() => withEndpoint(endpoint, access.etcdTls, listMembers)),
      await sample(() => etcdctl("member", "list")),
      "etcdctl member list (direct)",
    ),
  );
  rmSync(snap, { force: true });
  await access.close();
  await primary.close();
  console.log(lines.join("\n"));
  console.log(
    "\nratio = the tool's time / kubeha's time (above 1: kubeha is faster); kubeha goes through SSH, the tools straight to the host.",
  );
}

async function outer(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error("the benchmark runs on the lab: run it as root");
    process.exit(2);
  }
  const { startLab } = await import("../test/lab/lab.js");
  const lab = await startLab({ workers: 0 });
  try {
    console.log(
      `kubeha vs the standard tools on a lab (${iterations} iterations, medians), node ${process.version}\n`,
    );
    const self = fileURLToPath(import.meta.url);
    const r = spawnSync(
      "ip",
      ["netns", "exec", lab.wsNs, process.execPath, self, String(iterations), "--inner", lab.dir],
      { stdio: "inherit" },
    );
    process.exitCode = r.status ?? 1;
  } finally {
    await lab.stop();
  }
}

const i = process.argv.indexOf("--inner");
if (i >= 0) await inner(process.argv[i + 1]!);
else await outer();
