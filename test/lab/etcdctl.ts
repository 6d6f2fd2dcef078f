// etcdctl from the lab's workstation with the primary's healthcheck client certificate: how the lab
// tests look at etcd independently of kubeha's own client.
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
