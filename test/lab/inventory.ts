// The inventory file describing the lab, in docs/CONTRACTS.md's schema.
import { writeFile } from "node:fs/promises";
import { stringify } from "yaml";
import type { LabHost } from "./hosts.js";

export const LB_DNS_NAME = "api.lab.internal";

export async function writeInventory(
  file: string,
  o: {
    hosts: LabHost[];
    identityFile: string;
    knownHostsFile: string;
    stateDir: string;
    loadBalancer: {
      mode: "nginx" | "keepalived" | "external";
      address: string;
      port: number;
      hosts: LabHost[];
    };
  },
): Promise<void> {
  const entry = (h: LabHost): Record<string, unknown> => ({
    name: h.name,
    address: h.address,
    ...(h.sshUser === "root" ? {} : { ssh: { user: h.sshUser, sudo: h.sudo } }),
  });
  const byRole = (r: LabHost["role"]): LabHost[] => o.hosts.filter((h) => h.role === r);
  const [primary] = byRole("primary");
  const lb = o.loadBalancer;
  if (!primary) throw new Error("lab inventory needs a primary");
  // The schema's shape per mode (docs/CONTRACTS.md); an LB on a master is written with its name and address.
  const loadBalancer =
    lb.mode === "keepalived"
      ? {
          mode: lb.mode,
          hosts: lb.hosts.map(entry),
          virtualAddress: lb.address,
          dnsName: LB_DNS_NAME,
          port: lb.port,
        }
      : lb.mode === "external"
        ? { mode: lb.mode, address: lb.address, dnsName: LB_DNS_NAME, port: lb.port }
        : { name: lb.hosts[0]!.name, address: lb.hosts[0]!.address, dnsName: LB_DNS_NAME, port: lb.port };
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
    loadBalancer,
    workers: byRole("worker").map(entry),
    options: { stateDir: o.stateDir },
  };
  await writeFile(file, stringify(doc));
}
