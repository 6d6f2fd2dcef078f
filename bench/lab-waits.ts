// Waits measured on the lab with the standard tools, without kubeha: shared by the benchmarks.
import type { Lab } from "../test/lab/lab.js";
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
