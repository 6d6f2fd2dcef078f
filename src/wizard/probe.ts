import { KubehaError } from "../errors.js";
import { discoverCluster, probeHost } from "../discover/index.js";
import { manifestFacts, readManifests } from "../discover/primary.js";
import { memberAt } from "../etcd/members.js";
import { etcdPeerURL } from "../render/control-plane.js";
import type { ClusterFacts, HostFacts } from "../discover/types.js";
import { defaults } from "../inventory/normalise.js";
import type { Inventory, InventoryHost } from "../inventory/types.js";
import { SshHost } from "../ssh/host.js";
import { message, withTimeout } from "./interrupt.js";
import { readNodes, type NodeEntry } from "./nodes.js";

/** Reading the API and etcd through the primary; a cluster that does not answer is reported, not waited for. */
const DISCOVERY_TIMEOUT_MS = 45_000;

/**
 * kubeha needs root on every host: a login that works but cannot become root (a user without sudo, or
 * sudo refusing) is caught with the login, not as a probe that silently found nothing.
 */
async function checkRoot(host: SshHost, h: InventoryHost): Promise<void> {
  const r = await host.exec(["id", "-u"]);
  if (r.code === 0 && r.stdout.trim() === "0") return;
  const how = h.ssh.sudo ? `user ${h.ssh.user} with sudo -n` : `user ${h.ssh.user} without sudo`;
  const said = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("Could not chdir"))
    .join("; ")
    .slice(0, 200);
  const why = said || `id -u printed ${r.stdout.trim() || "nothing"}`;
  throw new KubehaError(
    `host ${h.name} (${h.address}): ${how} does not get root (${why}); kubeha needs root: log in as root or as a user with passwordless sudo`,
  );
}

/**
 * The inventory of the probe of the primary alone: discovery reads only `primary` from it. The masters
 * and the load balancer are not known yet when the primary is probed.
 */
function primaryOnly(primary: InventoryHost): Inventory {
  return {
    path: "(wizard)",
    primary,
    masters: [],
    loadBalancer: { mode: "nginx", hosts: [], address: primary.address, port: 6443 },
    workers: [],
    options: {
      extraSans: [],
      workerConcurrency: defaults.workerConcurrency,
      etcdLearnerTimeoutSeconds: defaults.etcdLearnerTimeoutSeconds,
      stateDir: ".",
    },
  };
}

/** What the probe of the primary found: from its manifests, and from its API and etcd when they answer. */
export interface PrimaryFound {
  cluster?: ClusterFacts;
  version: string;
  serviceCidr: string;
  hostname: string;
  /** The node name to suggest: its etcd member's, or its hostname. */
  nodeName: string;
  members: string[];
  /** The cluster's Nodes (none when the API did not answer). */
  nodes: NodeEntry[];
  /** Why the API and etcd could not be read. */
  problem?: string;
}

/** Connects, reads the static pod manifests, then the cluster through its API and etcd. */
export async function probePrimary(h: InventoryHost, say: (line: string) => void): Promise<PrimaryFound> {
  say(`connecting to ${h.ssh.user}@${h.address}:${h.ssh.port} ...`);
  const host = await SshHost.connect(h);
  try {
    await checkRoot(host, h);
    const { parsed } = await readManifests(host);
    const m = manifestFacts(h, parsed);
    const hostname = (await host.run("hostname")).trim();
    say(
      `connected; found kubeadm's static pod manifests (Kubernetes ${m.kubernetesVersion}); reading the cluster ...`,
    );
    try {
      const [cluster, nodes] = await withTimeout(
        Promise.all([discoverCluster(primaryOnly(h), host), readNodes(host, m)]),
        DISCOVERY_TIMEOUT_MS,
        `${h.address}: reading the cluster`,
      );
      const members = cluster.etcd.members.map((x) => x.name).filter(Boolean);
      const byPeer = memberAt(cluster.etcd.members, etcdPeerURL(h.address))?.name;
      return {
        cluster,
        version: cluster.kubernetesVersion,
        serviceCidr: cluster.serviceCidr,
        hostname,
        nodeName: byPeer || (members.includes(hostname) ? hostname : (members[0] ?? hostname)),
        members,
        nodes,
      };
    } catch (err) {
      return {
        version: m.kubernetesVersion,
        serviceCidr: m.serviceCidr,
        hostname,
        nodeName: hostname,
        members: [],
        nodes: [],
        problem: message(err),
      };
    }
  } finally {
    await host.close();
  }
}

/** A host other than the primary: root, what discovery's probe finds, and its hostname. */
export async function probeOther(
  h: InventoryHost,
  say: (line: string) => void,
): Promise<{ facts: HostFacts; hostname: string }> {
  say(`connecting to ${h.ssh.user}@${h.address}:${h.ssh.port} ...`);
  const host = await SshHost.connect(h);
  try {
    await checkRoot(host, h);
    const [{ facts }, hostname] = await Promise.all([
      probeHost(h, host),
      host.run("hostname").then((s) => s.trim()),
    ]);
    return { facts, hostname };
  } finally {
    await host.close();
  }
}
