/**
 * The new masters' certificate steps with and without their keys generated while the backup runs:
 *   node dist/bench/pki-ahead.js [backupMs] [iterations]     (defaults 3000 and 5)
 * The backup is stood in for by a wait of backupMs (it streams over the network and uses no CPU
 * here). Measured: the time from the end of the backup until both masters' files are rendered,
 * one master after the other as the steps run: the part of the certificate steps on the critical path.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { KeyPool } from "../src/pki/key-pool.js";
import { nodeKeyAlgorithms, renderNodePki, type NodePkiInput } from "../src/pki/render.js";
import type { CaName } from "../src/pki/specs.js";
import { sleep } from "../src/poll.js";

const backupMs = Number(process.argv[2] ?? 3000);
const iterations = Number(process.argv[3] ?? 5);
const root = mkdtempSync(join(tmpdir(), "kubeha-bench-ahead-"));

function makeCa(cn: string): { certPem: string; keyPem: string } {
  const [crt, key] = [join(root, `${cn}.crt`), join(root, `${cn}.key`)];
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      key,
      "-out",
      crt,
      "-subj",
      `/CN=${cn}`,
      "-days",
      "3650",
    ],
    { stdio: "ignore" },
  );
  return { certPem: readFileSync(crt, "utf8"), keyPem: readFileSync(key, "utf8") };
}

const cas = {
  ca: makeCa("kubernetes"),
  "front-proxy-ca": makeCa("front-proxy-ca"),
  "etcd-ca": makeCa("etcd-ca"),
} as Record<CaName, { certPem: string; keyPem: string }>;
const inputs: NodePkiInput[] = [12, 13].map((n) => ({
  node: { name: `master-${n - 10}`, address: `10.0.0.${n}` },
  cluster: { kubernetesVersion: "1.31.2", serviceCidr: "10.96.0.0/12", clusterDomain: "cluster.local" },
  loadBalancer: { address: "10.0.0.20", port: 6443 },
  cas,
}));

async function criticalPath(ahead: boolean): Promise<number> {
  const pool = new KeyPool();
  if (ahead) for (const i of inputs) for (const alg of nodeKeyAlgorithms(i)) pool.fill(alg, 1);
  await sleep(backupMs);
  const t0 = performance.now();
  for (const i of inputs) await renderNodePki({ ...i, newKey: (alg) => pool.take(alg) });
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cold: number[] = [];
const warm: number[] = [];
for (let i = 0; i < iterations; i++) {
  cold.push(await criticalPath(false));
  warm.push(await criticalPath(true));
}
rmSync(root, { recursive: true, force: true });
console.log(
  `two new masters' certificates after a ${backupMs} ms backup, ${iterations} runs, medians; ${cpus().length} CPUs, load average ${loadavg()[0]!.toFixed(1)}`,
);
console.log(
  `  keys generated in the step:        ${median(cold).toFixed(0)} ms  (${cold.map((x) => x.toFixed(0)).join(", ")})`,
);
console.log(
  `  keys generated during the backup:  ${median(warm).toFixed(0)} ms  (${warm.map((x) => x.toFixed(0)).join(", ")})`,
);
