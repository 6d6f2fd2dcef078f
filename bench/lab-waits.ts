// Waits measured on the lab with the standard tools, without kubeha: shared by the benchmarks.
import type { Lab } from "../test/lab/lab.js";
import { readFile } from "node:fs/promises";
import { pollUntil } from "../src/poll.js";

export async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

export function kubectl(lab: Lab, ...args: string[]) {
  return lab.wsExec(["kubectl", "--kubeconfig", lab.adminKubeconfig, "--request-timeout=5s", ...args]);
}

/** `systemctl restart kubelet` on a worker, until its Node is Ready with a heartbeat after the restart. */
export async function kubeletWait(lab: Lab, w = lab.workers[0] ?? lab.primary): Promise<number> {
  const { ms } = await timed(async () => {
    const since = Date.now() - 1000; // heartbeats have whole seconds
    const r = await lab.exec(w.name, ["systemctl", "restart", "kubelet"]);
    if (r.code !== 0) throw new Error(`systemctl restart kubelet on ${w.name}: ${r.stderr}`);
    await pollUntil(
      async () => {
        const n = await kubectl(lab, "get", "node", w.name, "-o", "json");
        if (n.code !== 0) return false;
        const ready = (
          JSON.parse(n.stdout) as {
            status?: { conditions?: { type: string; status: string; lastHeartbeatTime?: string }[] };
          }
        ).status?.conditions?.find((c) => c.type === "Ready");
        return ready?.status === "True" && Date.parse(ready.lastHeartbeatTime ?? "") >= since;
      },
      {
        timeoutMs: 120_000,
        what: `Node ${w.name} Ready after a kubelet restart`,
        minDelayMs: 50,
        maxDelayMs: 200,
      },
    );
  });
  return ms;
}

/** Busy and total CPU jiffies over all cores, from /proc/stat's first line. */
async function cpuTimes(): Promise<{ busy: number; total: number }> {
  const line = (await readFile("/proc/stat", "utf8")).split("\n")[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = v[3]! + (v[4] ?? 0); // idle + iowait
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Waits (up to `timeoutMs`) until the machine is idle: less than `maxBusy` of its CPU used over one
 * half second; returns the last share seen, for the report. A lab settles for seconds after it starts
 * or an apiserver restarts (its watch cache lists every key again); a measurement begun then times
 * that work, not ours.
 */
export async function untilIdle(maxBusy = 0.15, timeoutMs = 60_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await cpuTimes();
    await new Promise((r) => setTimeout(r, 500));
    const b = await cpuTimes();
    const share = (b.busy - a.busy) / Math.max(1, b.total - a.total);
    if (share < maxBusy || Date.now() >= deadline) return share;
  }
}
