/**
 * Host identity, pure: two inventory entries must be two machines, and each entry's name must be
 * what the cluster calls that machine. kubeha acts on entries; one machine entered twice gets two
 * sets of changes (and one entry's undo lands on the other's work), and a name at the wrong address
 * gets certificates for another node.
 */
import { isIP } from "node:net";
import type { KubeObject } from "../kube/client.js";
import type { Finding, HostIdentity, NodeFact } from "./types.js";

/** Sections as the probe parsed them (src/discover/probe.ts). */
export interface IdentitySections {
  hostname?: string;
  machineId?: string;
  addresses?: string;
}

export function hostIdentity(
  h: { name: string; role: string; address: string },
  hostKey: string | undefined,
  s: IdentitySections,
): HostIdentity {
  const machineId = s.machineId?.trim();
  const hostname = s.hostname?.trim();
  return {
    name: h.name,
    role: h.role,
    address: h.address,
    ...(hostKey && { hostKey }),
    // systemd writes "uninitialized" until first boot completes: it says nothing about the machine.
    ...(machineId && machineId !== "uninitialized" && { machineId }),
    ...(hostname && { hostname }),
    addresses: ownAddresses(s.addresses ?? ""),
  };
}

/** Addresses from `ip -o addr show` ("inet 10.0.0.5/24 ...") or `hostname -I`, without loopback and link-local. */
export function ownAddresses(text: string): string[] {
  const found = /\binet6?\s/.test(text)
    ? [...text.matchAll(/\binet6?\s+([0-9A-Fa-f:.]+)\//g)].map((m) => m[1]!)
    : text.split(/\s+/).filter((a) => isIP(a) !== 0);
  return [...new Set(found.filter((a) => !a.startsWith("127.") && a !== "::1" && !/^fe[89ab]/i.test(a)))];
}

/** Every Node's name, InternalIPs and Hostname address, from GET /api/v1/nodes. */
export function nodeFacts(items: KubeObject[]): NodeFact[] {
  return items.map((n) => {
    const status = n.status as { addresses?: { type: string; address: string }[] } | undefined;
    const addresses = status?.addresses ?? [];
    const hostname = addresses.find((a) => a.type === "Hostname")?.address;
    return {
      name: n.metadata.name,
      internalIPs: addresses.filter((a) => a.type === "InternalIP").map((a) => a.address),
      ...(hostname && { hostname }),
    };
  });
}

const at = (id: HostIdentity) => `${id.name} (${id.address})`;

/** Two entries that are one machine: the same /etc/machine-id or the same SSH host key. */
export function sameMachineFindings(ids: HostIdentity[]): Finding[] {
  const findings: Finding[] = [];
  for (const [j, b] of ids.entries()) {
    const a = ids.slice(0, j).find((x) => sameMachine(x, b).length > 0);
    if (!a) continue;
    const lb = a.role === "loadBalancer" || b.role === "loadBalancer";
    findings.push({
      severity: "error",
      host: b.name,
      message: `${at(b)} and ${at(a)} are one machine: ${sameMachine(a, b).join(" and ")}`,
      fix:
        `list each machine once: remove ${b.name} or ${a.name}` +
        (lb ? " (the load balancer needs a host of its own)" : "") +
        "; if they are two machines cloned from one image, give each its own /etc/machine-id (systemd-machine-id-setup) and SSH host keys (ssh-keygen -A)",
    });
  }
  return findings;
}

function sameMachine(a: HostIdentity, b: HostIdentity): string[] {
  return [
    a.machineId && a.machineId === b.machineId && `the same /etc/machine-id ${a.machineId}`,
    a.hostKey && a.hostKey === b.hostKey && `the same SSH host key ${a.hostKey}`,
  ].filter((x): x is string => typeof x === "string");
}

/**
 * The Node is this host: one of its InternalIPs is the address kubeha used or one of the host's own;
 * a Node without an InternalIP (or a host whose addresses could not be read) is judged by the
 * hostname its kubelet reported.
 */
export function nodeIsHost(node: NodeFact, id: HostIdentity): boolean {
  const mine = new Set([id.address, ...id.addresses]);
  if (node.internalIPs.length > 0 && (id.addresses.length > 0 || isIP(id.address) !== 0)) {
    return node.internalIPs.some((ip) => mine.has(ip));
  }
  return (
    node.hostname !== undefined &&
    id.hostname !== undefined &&
    node.hostname.toLowerCase() === id.hostname.toLowerCase()
  );
}

/**
 * Each entry's name must be what the cluster calls its machine. The primary and the workers are
 * Nodes already: the Node of that name must be this host. A new master's kubelet will register under
 * the host's hostname (kubeha sets no --hostname-override), and its certificates carry the entry's
 * name: the two must be equal, unless the cluster already has this host as a Node of that name.
 */
export function nodeNameFindings(ids: HostIdentity[], nodes: NodeFact[]): Finding[] {
  const findings: Finding[] = [];
  const error = (id: HostIdentity, message: string, fix: string) =>
    findings.push({ severity: "error", host: id.name, message: `${at(id)}: ${message}`, fix });
  for (const id of ids) {
    if (id.role === "loadBalancer") continue;
    const node = nodes.find((n) => n.name === id.name);
    const here = nodes.find((n) => n.name !== id.name && nodeIsHost(n, id));
    const hereText = here ? `; the Node at this address is "${here.name}"` : "";
    if (node && !nodeIsHost(node, id)) {
      error(
        id,
        `the cluster's Node "${id.name}" has InternalIP ${node.internalIPs.join(", ") || "(none)"}${node.hostname ? ` and hostname ${node.hostname}` : ""}, not this host (addresses ${id.addresses.join(", ") || "unknown"}, hostname ${id.hostname ?? "unknown"})${hereText}`,
        `give each entry the name of the Node at its address (kubectl get nodes -o wide)`,
      );
    } else if (!node && id.role !== "master") {
      error(
        id,
        `the cluster has no Node named "${id.name}"${hereText}`,
        `use the Node's name as the entry's name (kubectl get nodes -o wide)`,
      );
    } else if (!node && id.hostname !== undefined && id.hostname.toLowerCase() !== id.name) {
      const hostname = id.hostname.toLowerCase();
      error(
        id,
        `the host's hostname is "${id.hostname}": its kubelet would register the Node "${hostname}", but kubeha issues its certificates for "${id.name}"`,
        `name the entry "${hostname}", or set the host's hostname (hostnamectl set-hostname ${id.name}); kubeha does not set the kubelet's node name (--hostname-override), the kubelet takes the hostname`,
      );
    }
  }
  return findings;
}
