import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { maxOverlap, workerWindows } from "../../bench/workers.js";

describe("bench/workers: reading the workers' rolls from kubeha's log", () => {
  const log = [
    "2026-12-05T02:33:17.842Z step [worker-1] kubelet.conf: server https://10.0.0.11:6443 → https://10.0.0.20:6443",
    "2026-12-05T02:33:17.850Z step [worker-2] kubelet.conf: server https://10.0.0.11:6443 → https://10.0.0.20:6443",
    "2026-12-05T02:33:17.992Z step [worker-1] kubelet: Ready again after 0.1s",
    "2026-12-05T02:33:17.992Z step [worker-3] kubelet.conf: server https://10.0.0.11:6443 → https://10.0.0.20:6443",
    "2026-12-05T02:33:18.100Z step [master-1] kubelet: Ready again after 0.1s",
    "2026-12-05T02:33:18.200Z step [worker-2] kubelet: Ready again after 0.3s",
    "2026-12-05T02:33:18.300Z step [worker-3] kubelet: Ready again after 0.3s",
  ].join("\n");

  it("finds each worker's window and the most in flight at once", () => {
    const w = workerWindows(log);
    assert.deepEqual([...w.keys()], ["worker-1", "worker-2", "worker-3"]);
    assert.equal(w.get("worker-1")!.to! - w.get("worker-1")!.from, 150);
    // worker-1 ends in the same millisecond worker-3 starts: two at once, not three.
    assert.equal(maxOverlap(w.values()), 2);
  });

  it("counts a worker that never came back as in flight to the end", () => {
    assert.equal(maxOverlap([{ from: 0, to: 10 }, { from: 5 }, { from: 20, to: 30 }]), 2);
  });
});
