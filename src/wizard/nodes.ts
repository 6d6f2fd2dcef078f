import { ClusterAccess } from "../discover/access.js";
import { CONTROL_PLANE_LABELS } from "../discover/index.js";
import type { NodeObject } from "../kube/types.js";
import type { Host } from "../ssh/types.js";

/** A Node as the cluster lists it: what the wizard offers as a worker. */
export interface NodeEntry {
  name: string;
  internalIP?: string;
  controlPlane: boolean;
  ready: boolean;
}

/** Name, InternalIP, role and readiness of each Node in an API list. */
export function nodeEntries(items: readonly NodeObject[]): NodeEntry[] {
  return items.map((n) => {
    const labels = (n.metadata.labels ?? {}) as Record<string, string>;
    const ip = n.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
    return {
      name: n.metadata.name,
      ...(ip && { internalIP: ip }),
      controlPlane: CONTROL_PLANE_LABELS.some((l) => l in labels),
      ready: n.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false,
    };
  });
}

/**
 * The Nodes to offer as workers: not control-plane, with an address, and not already named or
 * addressed in the answers (a new master may already have joined as a Node).
 */
export function workerSuggestions(
  nodes: readonly NodeEntry[],
  takenNames: ReadonlySet<string>,
  takenAddresses: ReadonlySet<string>,
): (NodeEntry & { internalIP: string })[] {
  return nodes.filter(
    (n): n is NodeEntry & { internalIP: string } =>
      !n.controlPlane &&
      n.internalIP !== undefined &&
      !takenNames.has(n.name) &&
      !takenAddresses.has(n.internalIP),
  );
}

/** The cluster's Nodes, read from the primary's apiserver through its SSH connection. */
export async function readNodes(
  primary: Host,
  api: { certificatesDir: string; securePort: number; advertiseAddress: string },
): Promise<NodeEntry[]> {
  const access = await ClusterAccess.open(primary, api.certificatesDir);
  try {
    const kube = await access.kube(primary, api.securePort, api.advertiseAddress);
    const list = await kube.get<{ items: NodeObject[] }>("/api/v1/nodes");
    return nodeEntries(list.items);
  } finally {
    await access.close();
  }
}
