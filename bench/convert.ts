// A whole conversion against the waits no tool can avoid, side by side in one run on the lab (root):
//   node dist/bench/convert.js [sizes]      sizes: comma-separated, default "default,100MB"
// For each data size, one lab: first the unavoidable waits W, measured without kubeha with the real
// tools on the lab's own data, then T, the wall time of `kubeha apply --yes` from start to verified
// (its checks' summary line; the references report printed after it is timed apart). Each begins
// once the machine's CPU is idle (below 15% over half a second; the share is reported).
// W = streaming the etcd snapshot to the workstation (etcdctl snapshot save)
//   + for each new member, serially: etcdctl member add --learner, start it, member promote once
//     etcd accepts it (etcd members on this machine, the first filled with the lab's own data by the
//     lab's own transactions)
//   + an apiserver becoming ready after its manifest is written (the primary's, moved out and back)
//   + one kubelet restart until its Node is Ready again.
// One line per size: `<size>: conversion T s, unavoidable W s, overhead R`, R = (T - W) / W.
import { execFile } from "node:child_process";
import { cpus } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { rm, writeFile } from "node:fs/promises";
import { startLab, type Lab } from "../test/lab/lab.js";
import { kubehaActingAt } from "../test/lab/kubeha.js";
import { EtcdTestCluster, type EtcdNode } from "../test/helpers/etcd-cluster.js";
import { REPO } from "../test/lab/hosts.js";
import { CLOSE_POLL, pollUntil, retry } from "../src/poll.js";
import { kubectl, kubeletWait, timed, untilIdle } from "./lab-waits.js";

const execFileP = promisify(execFile);
const SIZES: Record<string, number> = { default: 3000, "100MB": 45_000 };
const NEW_MEMBERS = 2;

const seconds = (ms: number) => (ms / 1000).toFixed(1);
const pct = (share: number) => `${(share * 100).toFixed(0)}%`;

function etcdctlArgs(lab: Lab): string[] {
  const pki = join(lab.dir, "h", lab.primary.name, "etc-kubernetes", "pki", "etcd");
  return [
    `--endpoints=https://${lab.primary.address}:2379`,
    `--cacert=${pki}/ca.crt`,
    `--cert=${pki}/healthcheck-client.crt`,
    `--key=${pki}/healthcheck-client.key`,
    "--command-timeout=120s",
  ];
}

/** The snapshot streamed from the primary's etcd to the workstation, as an operator takes it. */
async function snapshotWait(lab: Lab, file: string): Promise<number> {
  const { ms, value } = await timed(() =>
    lab.wsExec(["etcdctl", ...etcdctlArgs(lab), "snapshot", "save", file]),
  );
  if (value.code !== 0) throw new Error(`etcdctl snapshot save: ${value.stderr}`);
  return ms;
}

/**
 * One member filled the way the lab fills the primary's (the same transactions, so the same raft log
 * for a learner to catch up from: a member restored from a snapshot would send every learner a raft
 * snapshot instead, which the lab's conversion does not meet), then each new member added as a
 * learner, started and promoted, one after the other, with etcdctl: etcd's own pace on this data.
 */
async function membershipWaits(dir: string, bulkKeys: number): Promise<number[]> {
  const cluster = await EtcdTestCluster.create();
  try {
    const m1 = await cluster.startFirst("m1");
    const job = join(dir, "bench-etcd-job.json");
    await writeFile(
      job,
      JSON.stringify({
        endpoint: m1.clientUrl,
        ca: cluster.pki.caFile,
        cert: cluster.pki.clientCertFile,
        key: cluster.pki.clientKeyFile,
        objects: [],
        bulk: bulkKeys,
      }),
    );
    await execFileP(process.execPath, [join(REPO, "dist/test/lab/fixture-etcd.js"), job], {
      maxBuffer: 1 << 20,
    });
    const members: EtcdNode[] = [m1];
    const out: number[] = [];
    for (let i = 2; i < 2 + NEW_MEMBERS; i++) {
      const spec = await cluster.spec(`m${i}`);
      const { ms } = await timed(async () => {
        // etcd refuses an add ("unhealthy cluster") until every voter has been connected for 5 s.
        const added = await retry(
          () =>
            cluster.etcdctl(m1.clientUrl, [
              "member",
              "add",
              spec.name,
              "--learner",
              `--peer-urls=${spec.peerUrl}`,
            ]),
          {
            retryIf: (e) => /unhealthy cluster/i.test(String(e)),
            timeoutMs: 60_000,
            // As closely as kubeha asks: W is the bound, not a slower tool.
            ...CLOSE_POLL,
          },
        );
        const initial = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(added)?.[1];
        // etcdctl pads the hex ID to 16 columns ("Member  bf79c6a73227c15 added").
        const id = /Member\s+([0-9a-f]+)\s+added/.exec(added)?.[1];
        if (!initial || !id) throw new Error(`etcdctl member add: ${added}`);
        members.push(await cluster.start(spec, initial, "existing", 300_000));
        await pollUntil(
          () =>
            cluster
              .etcdctl(m1.clientUrl, ["member", "promote", id])
              .then(() => true)
              .catch((e: unknown) => {
                if (/not in sync|can only promote a learner member which is in sync/i.test(String(e)))
                  return false;
                throw e;
              }),
          { timeoutMs: 300_000, what: `promotion of ${spec.name}`, ...CLOSE_POLL },
        );
      });
      out.push(ms);
    }
    return out;
  } finally {
    await cluster.destroy();
  }
}

/** The primary's apiserver manifest moved out until it stops, then written back: time until /readyz. */
async function apiserverWait(lab: Lab): Promise<number> {
  const dir = "/etc/kubernetes";
  const mv = (from: string, to: string) => lab.exec(lab.primary.name, ["mv", from, to]);
  await mv(`${dir}/manifests/kube-apiserver.yaml`, `${dir}/kube-apiserver.yaml.bench`);
  await pollUntil(async () => (await kubectl(lab, "get", "--raw", "/readyz")).code !== 0, {
    timeoutMs: 120_000,
    what: "the primary's apiserver to stop",
  });
  const { ms } = await timed(async () => {
    await mv(`${dir}/kube-apiserver.yaml.bench`, `${dir}/manifests/kube-apiserver.yaml`);
    await pollUntil(async () => (await kubectl(lab, "get", "--raw", "/readyz")).stdout.trim() === "ok", {
      timeoutMs: 120_000,
      what: "the primary's apiserver to be ready",
      minDelayMs: 50,
      maxDelayMs: 200,
    });
  });
  return ms;
}

/** The step lines kubeha printed with their durations ("...: done (4.2s)"), for the report. */
function stepTimes(stdout: string): string[] {
  return stdout
    .split("\n")
    .map((l) => /\] (.*): done \(([\d.]+)s\)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `    ${m[2]!.padStart(5)} s  ${m[1]}`);
}

async function measure(size: string, bulkKeys: number): Promise<string> {
  const lab = await startLab({ workers: 1, bulkKeys });
  try {
    const snap = join(lab.dir, "bench-snapshot.db");
    // Each side measured on an idle machine: the lab's own start and the apiserver restart below
    // leave seconds of work behind them.
    const idleW = await untilIdle();
    const w = {
      snapshot: await snapshotWait(lab, snap),
      members: await membershipWaits(lab.dir, bulkKeys),
      apiserver: await apiserverWait(lab),
      kubelet: await kubeletWait(lab),
    };
    await rm(snap, { force: true });
    const W = w.snapshot + w.members.reduce((a, b) => a + b, 0) + w.apiserver + w.kubelet;
    const idleT = await untilIdle();
    // T ends when the verification says so; the references report printed after it is timed apart.
    const started = Date.now();
    let verifiedAt = 0;
    const t = await kubehaActingAt(
      lab,
      ["apply", "--yes", "-i", lab.inventoryFile],
      /checks passed|checks FAILED/,
      async () => void (verifiedAt = Date.now()),
      900_000,
    );
    if (t.code !== 0 || !verifiedAt) throw new Error(`kubeha apply exit ${t.code}:\n${t.stdout}${t.stderr}`);
    const T = verifiedAt - started;
    return [
      `${size}: conversion ${seconds(T)} s, unavoidable ${seconds(W)} s, overhead ${((T - W) / W).toFixed(2)}`,
      `  data: ${lab.fixture.filledKeys} keys, ${(lab.fixture.filledBytes / 1e6).toFixed(1)} MB put into etcd; CPU busy before W ${pct(idleW)}, before T ${pct(idleT)}`,
      `  the whole command, with the references report after the verification: ${seconds(t.ms)} s`,
      `  W: snapshot ${seconds(w.snapshot)} s, members ${w.members.map(seconds).join(" + ")} s, apiserver ready ${seconds(w.apiserver)} s, kubelet restart ${seconds(w.kubelet)} s`,
      "  kubeha's steps:",
      ...stepTimes(t.stdout),
    ].join("\n");
  } finally {
    await lab.stop();
  }
}

if (process.getuid?.() !== 0) {
  console.error("the benchmark runs on the lab: run it as root");
  process.exit(2);
}
const sizes = (process.argv[2] ?? "default,100MB").split(",");
for (const s of sizes) {
  if (!(s in SIZES)) {
    console.error(`unknown size ${s}: expected ${Object.keys(SIZES).join(", ")}`);
    process.exit(2);
  }
}
console.log(
  `conversion vs unavoidable waits on a lab: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), node ${process.version}\n`,
);
for (const s of sizes) console.log(await measure(s, SIZES[s]!));
