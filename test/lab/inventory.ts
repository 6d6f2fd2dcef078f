// The inventory file describing the lab, in docs/CONTRACTS.md's schema.
import { writeFile } from "node:fs/promises";
import { stringify } from "yaml";
import type { LabHost } from "./hosts.js";

export const LB_DNS_NAME = "api.lab.internal";

export async function writeInventory(
  file: string,
  o: { hosts: LabHost[]; identityFile: string; knownHostsFile: string; stateDir: string },
): Promise<void> {
  const entry = (h: LabHost): Record<string, unknown> => ({
    name: h.name,
    address: h.address,
    ...(h.sshUser === "root" ? {} : { ssh: { user: h.sshUser, sudo: h.sudo } }),
  });
  const byRole = (r: LabHost["role"]): LabHost[] => o.hosts.filter((h) => h.role === r);
  const [primary] = byRole("primary");
  const [lb] = byRole("loadBalancer");
  if (!primary || !lb) throw new Error("lab inventory needs a primary and a load balancer");
  const doc = {
    ssh: {
      user: "root",
      port: 22,
      identityFile: o.identityFile,
      knownHostsFile: o.knownHostsFile,
      sudo: false,
      connectTimeoutSeconds: 5,
    },
    primary: entry(primary),
    masters: byRole("master").map(entry),
    loadBalancer: { ...entry(lb), dnsName: LB_DNS_NAME, port: 6443 },
    workers: byRole("worker").map(entry),
    options: { stateDir: o.stateDir },
  };
  await writeFile(file, stringify(doc));
}
