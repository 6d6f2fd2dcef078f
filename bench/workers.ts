// Moving many workers' kubelets to the load balancer, against the physical limit, on the lab (root):
//   node dist/bench/workers.js [workers] [concurrencies]     default: 50 workers, "3,10"
// One lab with that many workers (each a network namespace with sshd and a kubelet stand-in). First,
// without kubeha, one kubelet restart until its Node is Ready again (the median of three: w). Then,
// for each concurrency C in turn: `kubeha apply --yes` with `options.workerConcurrency: C`, and
// `kubeha rollback --yes` before the next C, so that every run moves every worker. From kubeha's log:
// the worker step's time S, and the most workers in flight at once (must not exceed C). The limit
// no tool can beat is ceil(N / C) × w: N restarts, C at a time.
// One line per C: `C=<C>: <N> workers in S s, <N/S> workers/s, at most <k> at once; limit L s, ratio S/L`.
import { cpus, loadavg } from "node:os";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { startLab, type Lab } from "../test/lab/lab.js";
import { kubeha } from "../test/lab/kubeha.js";
import { kubeletWait } from "./lab-waits.js";

const seconds = (ms: number) => (ms / 1000).toFixed(1);

/** Each worker's roll from kubeha's log: from "kubelet.conf: server …" to "kubelet: Ready again". */
export function workerWindows(log: string): Map<string, { from: number; to?: number }> {
  const windows = new Map<string, { from: number; to?: number }>();
  for (const line of log.split("\n")) {
    const m = /^(\S+Z) step \[([^\]]+)\] (kubelet\.conf: server|kubelet: Ready again)/.exec(line);
    if (!m) continue;
    const at = Date.parse(m[1]!);
    if (m[3] === "kubelet.conf: server") windows.set(m[2]!, { from: at });
    else {
      const w = windows.get(m[2]!);
      if (w) w.to = at;
    }
  }
  return windows;
}

/** The most windows open at any one time. */
export function maxOverlap(windows: Iterable<{ from: number; to?: number }>): number {
  const edges = [...windows].flatMap((w) => [
    [w.from, 1],
    [w.to ?? Infinity, -1],
  ]);
  // An end and a start at the same millisecond: the end first.
  edges.sort((a, b) => a[0]! - b[0]! || a[1]! - b[1]!);
  let open = 0;
  let most = 0;
  for (const [, d] of edges) most = Math.max(most, (open += d!));
  return most;
}

async function setConcurrency(lab: Lab, c: number): Promise<void> {
  const inv = parse(await readFile(lab.inventoryFile, "utf8")) as { options?: Record<string, unknown> };
  inv.options = { ...inv.options, workerConcurrency: c };
  await writeFile(lab.inventoryFile, stringify(inv));
}

async function newestLog(lab: Lab, command: string): Promise<string> {
  const dir = join(lab.stateDir, "logs");
  const name = (await readdir(dir))
    .filter((f) => f.startsWith(`${command}-`))
    .sort()
    .at(-1);
  if (!name) throw new Error(`no ${command} log in ${dir}`);
  return readFile(join(dir, name), "utf8");
}

async function run(lab: Lab, args: string[]): Promise<string> {
  const r = await kubeha(lab, [...args, "--yes", "-i", lab.inventoryFile], { timeoutMs: 1_800_000 });
  if (r.code !== 0) throw new Error(`kubeha ${args.join(" ")} exit ${r.code}:\n${r.stdout}${r.stderr}`);
  return r.stdout;
}

async function main(n: number, concurrencies: number[]): Promise<void> {
  console.log(
    `${n} workers' kubelet.conf to the LB on a lab: ${cpus().length} CPUs (${cpus()[0]?.model ?? "?"}), node ${process.version}\n`,
  );
  const t0 = Date.now();
  const lab = await startLab({ workers: n });
  try {
    console.log(`lab with ${n} workers up in ${seconds(Date.now() - t0)} s`);
    const singles: number[] = [];
    for (const w of lab.workers.slice(0, 3)) singles.push(await kubeletWait(lab, w));
    const w = singles.sort((a, b) => a - b)[1]!;
    console.log(
      `one kubelet restart to Ready, without kubeha: ${singles.map(seconds).join(", ")} s (median ${seconds(w)} s)`,
    );
    for (const [i, c] of concurrencies.entries()) {
      if (i > 0) await run(lab, ["rollback"]);
      await setConcurrency(lab, c);
      const load = loadavg()[0]!.toFixed(1);
      const out = await run(lab, ["apply"]);
      const step = /kubelet\.conf on \d+ workers .*: done \(([\d.]+)s\)/.exec(out);
      if (!step) throw new Error(`no worker step time in apply's output:\n${out}`);
      const S = Number(step[1]) * 1000;
      const windows = workerWindows(await newestLog(lab, "apply"));
      if (windows.size !== n) throw new Error(`the log shows ${windows.size} workers moved, expected ${n}`);
      const most = maxOverlap(windows.values());
      const limit = Math.ceil(n / c) * w;
      console.log(
        `C=${c}: ${n} workers in ${seconds(S)} s, ${(n / (S / 1000)).toFixed(1)} workers/s, at most ${most} at once; ` +
          `limit ${seconds(limit)} s, ratio ${(S / limit).toFixed(2)}   (load ${load})`,
      );
      if (most > c) throw new Error(`${most} workers were in flight at once, over workerConcurrency ${c}`);
    }
  } finally {
    await lab.stop();
  }
}

if (process.argv[1]?.endsWith("workers.js")) {
  if (process.getuid?.() !== 0) {
    console.error("the benchmark runs on the lab: run it as root");
    process.exit(2);
  }
  const n = Number(process.argv[2] ?? 50);
  const cs = (process.argv[3] ?? "3,10").split(",").map(Number);
  if (!Number.isInteger(n) || n < 1 || cs.some((c) => !Number.isInteger(c) || c < 1)) {
    console.error("usage: node dist/bench/workers.js [workers] [concurrencies, e.g. 3,10]");
    process.exit(2);
  }
  await main(n, cs);
}
