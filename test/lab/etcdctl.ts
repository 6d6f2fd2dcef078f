// etcdctl from the lab's workstation with the primary's healthcheck client certificate: how the lab
// tests look at etcd independently of kubeha's own client.
import assert from "node:assert/strict";
import { join } from "node:path";
import type { Lab } from "./lab.js";

export function etcdctl(lab: Lab, endpoints: string[], ...args: string[]) {
  const pki = join(lab.dir, "h", "master-1", "etc-kubernetes", "pki", "etcd");
  return lab.wsExec([
    "etcdctl",
    `--endpoints=${endpoints.map((a) => `https://${a}:2379`).join(",")}`,
    `--cacert=${pki}/ca.crt`,
    `--cert=${pki}/healthcheck-client.crt`,
    `--key=${pki}/healthcheck-client.key`,
    "--command-timeout=10s",
    ...args,
  ]);
}

/** Every named host's member has the same hashKV at a revision they all have (kubelets keep writing). */
export async function equalHashes(lab: Lab, names: string[]): Promise<void> {
  const addresses = names.map((n) => lab.host(n).address);
  const st = await etcdctl(lab, addresses, "endpoint", "status", "-w", "json");
  assert.equal(st.code, 0, st.stderr);
  const rev = Math.min(
    ...(JSON.parse(st.stdout) as { Status: { header: { revision: number } } }[]).map(
      (x) => x.Status.header.revision,
    ),
  );
  const h = await etcdctl(lab, addresses, "endpoint", "hashkv", `--rev=${rev}`, "-w", "json");
  assert.equal(h.code, 0, h.stderr);
  const hashes = (JSON.parse(h.stdout) as { HashKV: { hash: number } }[]).map((x) => x.HashKV.hash);
  assert.equal(hashes.length, names.length);
  assert.equal(new Set(hashes).size, 1, `hashkv: ${hashes.join(", ")}`);
}
