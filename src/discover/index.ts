import type { Inventory, InventoryHost } from "../inventory/types.js";
import type { Host } from "../ssh/types.js";
import { listeningPorts } from "../ssh/ports.js";
import { KubehaError, wrap } from "../errors.js";
import { ClusterAccess } from "./access.js";
import { listMembers, memberHost, memberOf } from "../etcd/members.js";
import { clusterHealth } from "../etcd/health.js";
import { withEndpoint } from "../etcd/client.js";
import { objectPath, type KubeObject } from "../kube/client.js";
import type { ConfigMap } from "../kube/types.js";
import {
  PROBE_PORTS,
  identityScript,
  kubeletVersion,
  nginxVersion,
  parseProbeSections,
  prettyOs,
  probeScript,
  streamModuleState,
} from "./probe.js";
import { kubeletCgroupDriver, probeRuntime } from "./runtime.js";
import {
  COMPONENTS,
  clusterConfigurationFacts,
  manifestFacts,
  readCaKeys,
  readCertificates,
  readManifests,
} from "./primary.js";
import { dormantStreamFiles, nginxTestError, STREAM_DIR_LISTING } from "./nginx.js";
import { foreignStreams, MERGED_CONF_PATH } from "../render/nginx-merge.js";
import { clusterFindings, loadBalancerFindings, masterFindings, strayManifestFindings } from "./rules.js";
import { KEEPALIVED_PROBE, keepalivedFacts, keepalivedFindings } from "./keepalived.js";
import { externalLbFindings } from "./external.js";
import { hostIdentity, nodeFacts, nodeNameFindings, sameMachineFindings } from "./identity.js";
import type { ClusterFacts, DiscoveryResult, Finding, HostFacts, HostIdentity } from "./types.js";

export const CONTROL_PLANE_LABELS = [
  "node-role.kubernetes.io/control-plane",
  "node-role.kubernetes.io/master",
];
const KUBELET_CONFIG = "/var/lib/kubelet/config.yaml";
export const KUBEHA_STREAM_CONF = "/etc/nginx/stream.d/kubeha-apiservers.conf";

interface Probed {
  facts: HostFacts;
  identity: HostIdentity;
  /** Host clock minus local clock, ms, measured at the midpoint of the round trip. */
  offsetMs?: number;
  /** Half the round trip: the clock was read somewhere within it, so the offset is known to ± this. */
  offsetErrorMs?: number;
  managedLb: boolean;
  /** The primary's: what the new masters' kubelets will use. */
  kubeletCgroupDriver?: "systemd" | "cgroupfs";
}

/** One read-only round trip to a host: identity, OS, kubelet, runtime, ports, kernel settings, clock, manifests, nginx. */
export async function probeHost(h: InventoryHost, host: Host, keepalived = false): Promise<Probed> {
  const before = Date.now();
  const lbScript =
    `\necho '@@kubeha-probe@@ managed'; test -f ${KUBEHA_STREAM_CONF} -o -f ${MERGED_CONF_PATH} && echo yes` +
    `\necho '@@kubeha-probe@@ streamDir'; ${STREAM_DIR_LISTING}` +
    // The whole effective configuration, includes resolved, and whether it passes nginx's own test.
    `\nif command -v nginx >/dev/null; then echo '@@kubeha-probe@@ nginxT'; nginx -T 2>&1; rc=$?; echo '@@kubeha-probe@@ nginxTExit'; echo $rc; fi`;
  // The kubelet configuration kubeha copies to new masters, read with the probe (no extra round trip).
  const primaryScript = `\necho '@@kubeha-probe@@ kubeletConfig'; cat ${KUBELET_CONFIG} 2>/dev/null`;
  const extra =
    h.role === "loadBalancer"
      ? lbScript + (keepalived ? KEEPALIVED_PROBE : "")
      : h.role === "primary"
        ? primaryScript
        : "";
  const res = await host.exec(probeScript + extra);
  const after = Date.now();
  if (!res.stdout.includes("@@kubeha-probe@@ os")) {
    const why = (res.stderr.trim() || `exit ${res.code}`).split("\n").slice(-2).join(" ");
    throw new KubehaError(`host ${h.name} (${h.address}): cannot run commands as ${h.ssh.user}: ${why}`);
  }
  const s = parseProbeSections(res.stdout);
  const ports = listeningPorts(s.listening ?? "");
  const clock = Number(s.clock);
  const checkPorts: number[] = h.role === "loadBalancer" ? [] : [...PROBE_PORTS];
  const facts: HostFacts = {
    name: h.name,
    role: h.role,
    os: prettyOs(s.os),
    kubeletVersion: kubeletVersion(s.kubelet),
    containerRuntime: s.runtime?.split("\n")[0] || undefined,
    busyPorts: checkPorts.filter((p) => ports.has(p)),
    ipForward: s.ipForward ? s.ipForward.trim() === "1" : undefined,
    brNetfilter: s.brNetfilter === undefined ? undefined : s.brNetfilter.trim() === "1",
    manifests: (s.manifests ?? "")
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean),
  };
  if (h.role === "loadBalancer") {
    const v = nginxVersion(s.nginx);
    const lbs = s as Record<string, string>;
    if (v) {
      facts.nginx = { version: v, stream: streamModuleState(s.nginx ?? "", s.nginxModules ?? "") };
      if (lbs.nginxTExit !== undefined && lbs.nginxTExit.trim() !== "0")
        facts.nginx.testError = nginxTestError(lbs.nginxT ?? "") || `nginx -T exit ${lbs.nginxTExit.trim()}`;
      else {
        facts.nginx.otherStreamBlocks = foreignStreams(lbs.nginxT ?? "");
        facts.nginx.dormantStreamFiles = dormantStreamFiles(lbs.nginxT ?? "", lbs.streamDir ?? "");
      }
    }
    facts.busyPorts = [...ports];
    if (keepalived) facts.keepalived = keepalivedFacts(lbs, h.address);
  }
  return {
    facts,
    identity: hostIdentity(h, host.hostKey, s),
    offsetMs: Number.isFinite(clock) ? clock - (before + after) / 2 : undefined,
    offsetErrorMs: (after - before) / 2,
    managedLb: (s as Record<string, string>).managed?.trim() === "yes",
    kubeletCgroupDriver: kubeletCgroupDriver((s as Record<string, string>).kubeletConfig),
  };
}

/**
 * A worker's identity, in one read-only round trip. A worker that cannot be reached is left out
 * (one whose read fails here with a warning): apply skips it too and names it at the end.
 */
async function workerIdentity(w: InventoryHost, host: Host): Promise<HostIdentity | Finding | undefined> {
  // Only a connected host has a verified host key; one that could not connect was named already.
  if (!host.hostKey) return undefined;
  try {
    const res = await host.exec(identityScript, { sudo: false });
    return hostIdentity(w, host.hostKey, parseProbeSections(res.stdout));
  } catch (err) {
    const why = (err as Error).message;
    return {
      severity: "warning",
      host: w.name,
      message: `not identified (${why}); checked once it can be reached`,
    };
  }
}

/** Reads the primary: manifests, PKI, the API's kubeadm-config and nodes, and etcd through forwarded ports. */
export async function discoverCluster(
  inv: Inventory,
  primary: Host,
  manifests: ReturnType<typeof readManifests> = readManifests(primary),
): Promise<ClusterFacts> {
  const { text, parsed } = await manifests;
  const m = manifestFacts(inv.primary, parsed);
  const [certificates, caKeys, hostname] = await Promise.all([
    readCertificates(primary, m.certificatesDir),
    readCaKeys(primary, m.certificatesDir),
    primary.run("hostname").then((s) => s.trim()),
  ]);
  const access = await ClusterAccess.open(primary, m.certificatesDir);
  try {
    const kube = await access.kube(primary, m.securePort, m.advertiseAddress);
    const endpoint = await access.etcdEndpoint(primary);
    const [kubeadmConfig, nodes, etcd] = await Promise.all([
      kube.get<ConfigMap>(objectPath("configmaps", "kubeadm-config", "kube-system")).catch((err: unknown) => {
        throw wrap(`${inv.primary.name}: read kube-system/kubeadm-config`, err);
      }),
      kube.get<{ items: KubeObject[] }>("/api/v1/nodes"),
      withEndpoint(endpoint, access.etcdTls, async (client) => {
        const members = await listMembers(client);
        const status = await client.maintenance.status();
        return { members, version: status.version };
      }),
    ]);
    const clusterConfiguration = kubeadmConfig.data?.ClusterConfiguration ?? "";
    const cc = clusterConfigurationFacts(clusterConfiguration);
    const health = etcd.members.length === 1 ? await clusterHealth([endpoint], access.etcdTls) : undefined;
    const self = memberOf(etcd.members, memberHost(inv.primary)) ?? etcd.members[0];
    return {
      primary: { name: inv.primary.name, address: inv.primary.address, hostname },
      kubernetesVersion: m.kubernetesVersion,
      etcdImageVersion: m.etcdImageVersion,
      etcdServerVersion: etcd.version,
      advertiseAddress: m.advertiseAddress,
      securePort: m.securePort,
      apiserverFlags: m.apiserverFlags,
      serviceCidr: m.serviceCidr,
      podCidr: m.podCidr,
      clusterDomain: cc.clusterDomain ?? "cluster.local",
      certificatesDir: m.certificatesDir,
      certificates,
      caKeys,
      clusterConfiguration,
      controlPlaneEndpoint: cc.controlPlaneEndpoint,
      etcd: {
        members: etcd.members,
        // With several members, health is checked by the steps that can reach each of them.
        healthy: health ? health.healthy : true,
        primaryPeerUrls: self?.peerUrls ?? [],
        listenPeerUrls: m.etcdListen.peer,
        listenClientUrls: m.etcdListen.client,
      },
      controlPlaneNodes: nodes.items
        .filter((n) => {
          const labels = (n.metadata.labels ?? {}) as Record<string, string>;
          return CONTROL_PLANE_LABELS.some((l) => l in labels);
        })
        .map((n) => n.metadata.name),
      nodes: nodeFacts(nodes.items),
      controlPlaneImages: controlPlaneImages(parsed),
      manifests: text,
    };
  } finally {
    await access.close();
  }
}

/** The images of the primary's static pods, each once. */
function controlPlaneImages(parsed: Awaited<ReturnType<typeof readManifests>>["parsed"]): string[] {
  return [...new Set(COMPONENTS.map((c) => parsed[c].image))];
}

/**
 * Discovery: read the cluster and every host without changing anything, and list every finding
 * that blocks the conversion. Hosts that are already part of the cluster this inventory describes
 * (a resumed or finished run) are not held to the "clean host" checks; nor are the members and Nodes
 * of masters being retired (`retiring`, by node name: `kubeha remove`/`replace`).
 */
export async function discover(
  inv: Inventory,
  hosts: Map<string, Host>,
  options: { retiring?: string[] } = {},
): Promise<DiscoveryResult> {
  const get = (name: string): Host => {
    const h = hosts.get(name);
    if (!h) throw new Error(`internal: no connection for host ${name}`);
    return h;
  };
  const lb = inv.loadBalancer;
  const others = [...inv.masters, ...lb.hosts];
  const manifests = readManifests(get(inv.primary.name));
  const [cluster, runtimes, primaryProbe, ...probes] = await Promise.all([
    discoverCluster(inv, get(inv.primary.name), manifests),
    // As soon as the primary's images are known, alongside the rest of the cluster's discovery.
    manifests.then(({ parsed }) =>
      Promise.all(inv.masters.map((h) => probeRuntime(get(h.name), controlPlaneImages(parsed)))),
    ),
    probeHost(inv.primary, get(inv.primary.name)),
    ...others.map((h) => probeHost(h, get(h.name), lb.mode === "keepalived")),
  ]);
  inv.masters.forEach((_, i) => (probes[i]!.facts.runtime = runtimes[i]));
  cluster.kubeletCgroupDriver = primaryProbe.kubeletCgroupDriver;
  const findings: Finding[] = [];
  const ours = new Set([inv.primary.name, ...inv.masters.map((h) => h.name), ...(options.retiring ?? [])]);
  const members = cluster.etcd.members;
  findings.push(
    ...clusterFindings(cluster, {
      member: (m) =>
        [inv.primary, ...inv.masters].some((h) => memberOf([m], memberHost(h))) ||
        (options.retiring ?? []).includes(m.name),
      node: (n) => ours.has(n),
    }),
  );
  if (!members.some((m) => m.name === inv.primary.name) && members.length > 0) {
    findings.push({
      severity: "error",
      host: inv.primary.name,
      message: `no etcd member is named "${inv.primary.name}" (members: ${cluster.etcd.members.map((m) => m.name).join(", ")}): is primary.name the node's name?`,
      fix: "set primary.name to the Kubernetes node name of the existing control-plane node",
    });
  }
  findings.push(...strayManifestFindings(primaryProbe.facts));
  const hostFacts: HostFacts[] = [primaryProbe.facts];
  for (const [i, h] of others.entries()) {
    const p = probes[i]!;
    if (p.offsetMs !== undefined && primaryProbe.offsetMs !== undefined) {
      p.facts.clockSkewMs = Math.round(p.offsetMs - primaryProbe.offsetMs);
      p.facts.clockSkewErrorMs = Math.round((p.offsetErrorMs ?? 0) + (primaryProbe.offsetErrorMs ?? 0));
    }
    hostFacts.push(p.facts);
    if (h.role === "master") {
      const joined = memberOf(members, memberHost(h)) !== undefined;
      const f = masterFindings(p.facts, cluster).filter(
        (x) =>
          !joined ||
          !(x.message.startsWith("ports already in use") || x.message.includes("/etc/kubernetes/manifests")),
      );
      findings.push(...f, ...(joined ? strayManifestFindings(p.facts) : []));
    } else {
      const f = loadBalancerFindings(p.facts, lb.port).filter(
        (x) => !(p.managedLb && x.message.startsWith("port ")),
      );
      findings.push(...f, ...keepalivedFindings(p.facts, h.address, lb.vrrp?.interface));
    }
  }
  if (lb.mode === "external") {
    const masters = [inv.primary, ...inv.masters].map((m) => ({
      name: m.name,
      address: m.address,
      host: get(m.name),
    }));
    findings.push(...(await externalLbFindings(lb, masters, cluster.securePort)));
  }
  // After the probes: the workers' round trips add nothing to the work in flight while the probes time the clocks.
  const workers = await Promise.all(
    inv.workers.flatMap((w) => {
      const host = hosts.get(w.name);
      return host ? [workerIdentity(w, host)] : [];
    }),
  );
  // An LB on a master is that master's entry, probed in both roles: one identity per entry (the first).
  const identities = [
    primaryProbe.identity,
    ...probes.map((p) => p.identity),
    ...workers.filter((id): id is HostIdentity => id !== undefined && !("severity" in id)),
  ].filter((id, i, all) => all.findIndex((x) => x.name === id.name) === i);
  findings.push(...workers.filter((f): f is Finding => f !== undefined && "severity" in f));
  findings.push(...sameMachineFindings(identities), ...nodeNameFindings(identities, cluster.nodes));
  return { cluster, hosts: hostFacts, identities, findings };
}
