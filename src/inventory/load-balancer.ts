/**
 * The entry point's modes: what each needs in `loadBalancer:`, and a one-line explanation of each (for
 * the wizard and the README). Field types are the schema's job; which fields a mode needs or refuses
 * is checked here, before defaults are applied.
 */
import type { Problem } from "./problems.js";
import { masterOf, type Inventory } from "./types.js";

export const LOAD_BALANCER_MODES = [
  {
    mode: "nginx",
    summary:
      "nginx stream on one host (a dedicated one, or a master on a port other than 6443): simplest, but that host is a single point of failure",
  },
  {
    mode: "keepalived",
    summary:
      "nginx stream on two or three hosts and keepalived (VRRP) moving a virtual address to a healthy one: survives the loss of any LB host",
  },
  {
    mode: "external",
    summary:
      "your own load balancer (hardware, cloud, or an nginx you run): kubeha checks it reaches the apiservers and uses it, but does not configure it",
  },
] as const;

/** The fields of `loadBalancer:` as written, for the per-mode rules. */
interface WrittenLoadBalancer {
  mode?: string;
  name?: string;
  address?: string;
  ssh?: unknown;
  hosts?: unknown[];
  virtualAddress?: string;
  virtualRouterId?: number;
  interface?: string;
  clientAddress?: string;
}

const NEEDS: Record<string, readonly (keyof WrittenLoadBalancer)[]> = {
  nginx: ["name", "address"],
  keepalived: ["hosts", "virtualAddress"],
  external: ["address"],
};
const REFUSES: Record<string, readonly (keyof WrittenLoadBalancer)[]> = {
  nginx: ["hosts", "virtualAddress", "virtualRouterId", "interface"],
  keepalived: ["name", "address", "ssh", "clientAddress"],
  external: ["name", "ssh", "hosts", "virtualAddress", "virtualRouterId", "interface", "clientAddress"],
};
const WHY_REFUSED: Record<string, string> = {
  nginx: "only keepalived mode has several hosts and a virtual address",
  keepalived: "with keepalived, the hosts are listed under hosts: and clients use virtualAddress",
  external: "kubeha does not log in to an external load balancer: address and port are all it needs",
};

/** Problems of `loadBalancer:` for its mode (old inventories, without `mode`, are nginx). */
export function loadBalancerShape(lb: WrittenLoadBalancer): Problem[] {
  const mode = lb.mode ?? "nginx";
  const problems: Problem[] = [];
  for (const f of NEEDS[mode] ?? [])
    if (lb[f] === undefined)
      problems.push({ path: `loadBalancer.${f}`, message: `is required with mode: ${mode}` });
  for (const f of REFUSES[mode] ?? [])
    if (lb[f] !== undefined)
      problems.push({
        path: `loadBalancer.${f}`,
        message: `is not used with mode: ${mode} (${WHY_REFUSED[mode]})`,
      });
  const n = lb.hosts?.length;
  if (mode === "keepalived" && n !== undefined && (n < 2 || n > 3))
    problems.push({
      path: "loadBalancer.hosts",
      message: `keepalived needs 2 or 3 hosts, not ${n}: one is active, the others take over its virtual address`,
    });
  return problems;
}

/** One line for plan: the mode, the address clients will use, and what carries it. */
export function entryPointSummary(inv: Inventory): string {
  const lb = inv.loadBalancer;
  const host = lb.address.includes(":") ? `[${lb.address}]` : lb.address;
  const url = `https://${lb.dnsName ?? host}:${lb.port}${lb.dnsName ? ` (${lb.address})` : ""}`;
  const names = lb.hosts.map((h) => h.name).join(", ");
  const onMaster = lb.hosts.map((h) => masterOf(inv, h.name)?.name).filter(Boolean);
  const where =
    lb.mode === "keepalived"
      ? `virtual address held by one of ${names} (keepalived, VRRP router ${lb.vrrp?.virtualRouterId}), nginx on each`
      : lb.mode === "external"
        ? "your load balancer; kubeha checks it but does not configure it"
        : `nginx on ${names}${onMaster.length ? `, a master: the entry point shares ${onMaster.join(", ")}'s fate` : ": a single point of failure"}`;
  return `Entry point (${lb.mode}): clients will use ${url}; ${where}`;
}
