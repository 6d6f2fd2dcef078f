import { STREAM_DIR } from "../render/nginx.js";
import { mergeConflicts } from "../render/nginx-merge.js";
import { parseURL } from "../render/net.js";
import { layoutFindings } from "./layout.js";
import { COMPONENTS } from "./primary.js";
import { runtimeFindings } from "./runtime.js";
import type { EtcdMember } from "../etcd/members.js";
import type { ClusterFacts, Finding, HostFacts } from "./types.js";

/** Clock skew beyond this breaks certificate validity checks and etcd's leases. */
const MAX_CLOCK_SKEW_MS = 2_000;

function minor(version: string): string {
  return version.split(".").slice(0, 2).join(".");
}

/** Which members and control-plane nodes are the inventory's own masters (a resumed or finished run). */
export interface OwnHosts {
  member(m: EtcdMember): boolean;
  node(name: string): boolean;
}

/**
 * What makes the cluster itself unsuitable: the checks kubeha runs before touching anything. A
 * cluster whose extra members and nodes are all this inventory's own is a resume, not a refusal.
 */
export function clusterFindings(c: ClusterFacts, own?: OwnHosts): Finding[] {
  const f: Finding[] = [];
  const host = c.primary.name;
  const [major, min] = c.kubernetesVersion.split(".").map(Number);
  if (major !== 1 || (min ?? 0) < 24) {
    f.push({
      severity: "error",
      host,
      message: `Kubernetes ${c.kubernetesVersion} is older than 1.24, the oldest layout kubeha supports`,
      fix: "upgrade the cluster with kubeadm to 1.24 or newer first",
    });
  }
  if (!c.caKeys.ca || !c.caKeys.etcdCa || !c.caKeys.frontProxyCa) {
    const missing = [
      !c.caKeys.ca && "ca.key",
      !c.caKeys.frontProxyCa && "front-proxy-ca.key",
      !c.caKeys.etcdCa && "etcd/ca.key",
    ].filter(Boolean);
    f.push({
      severity: "error",
      host,
      message: `${c.certificatesDir}/${missing.join(", ")} missing: the cluster uses an external CA, and kubeha cannot sign the new masters' certificates`,
      fix: "issue the new masters' certificates with your CA (kubeadm's external CA mode) and join them with kubeadm",
    });
  }
  f.push(...layoutFindings(c));
  const resumed =
    own !== undefined &&
    c.etcd.members.every((m) => own.member(m)) &&
    c.controlPlaneNodes.every((n) => own.node(n));
  const voters = c.etcd.members.filter((m) => !m.isLearner);
  // Three voters and three control-plane nodes survive the loss of any one: nothing to convert.
  if (!resumed && voters.length >= 3 && c.controlPlaneNodes.length >= 3) {
    f.push({
      severity: "error",
      host: "cluster",
      message: `the cluster is already highly available: ${c.controlPlaneNodes.length} control-plane nodes (${c.controlPlaneNodes.join(", ")}) and ${voters.length} etcd voters (${voters.map((m) => m.name).join(", ")}); kubeha has nothing to convert`,
      fix: "nothing to do; to replace or add a master use `kubeadm join --control-plane` (or `kubeha certs render` for its certificates)",
    });
  } else if (!resumed && (c.controlPlaneNodes.length > 1 || voters.length > 1)) {
    f.push({
      severity: "error",
      host: "cluster",
      message: `the cluster already has ${Math.max(c.controlPlaneNodes.length, voters.length)} control-plane nodes or etcd members (${[...new Set([...c.controlPlaneNodes, ...voters.map((m) => m.name)])].join(", ")}); kubeha converts a single-master cluster`,
      fix: "to add a master to an HA cluster use `kubeadm join --control-plane`, or `kubeha certs render` for its certificates",
    });
  }
  // A learner of our own is a run to resume (no finding when all else is ours). A foreign one did
  // not come from kubeha: resuming cannot help, and a learner does not vote, so removing it is safe.
  for (const m of c.etcd.members.filter((x) => x.isLearner && !own?.member(x))) {
    f.push({
      severity: "error",
      host: "cluster",
      message: `etcd learner ${m.name || "(not started)"} (id ${m.id}, peer ${m.peerUrls.join(",") || "none"}) is not one of the inventory's hosts: kubeha did not add it`,
      fix: `if nothing of yours is joining with it, remove it on ${host} as root: ${etcdctl(c, `member remove ${m.id}`)}`,
    });
  }
  if (!c.etcd.healthy) {
    f.push({
      severity: "error",
      host,
      message: "etcd is not healthy",
      fix: "repair etcd before changing its membership",
    });
  }
  return f;
}

/** An etcdctl command line run on the primary, with its kubeadm client certificate and loopback endpoint. */
export function etcdctl(c: ClusterFacts, args: string): string {
  const endpoint =
    c.etcd.listenClientUrls.find((u) => parseURL(u)?.host === "127.0.0.1") ??
    c.etcd.listenClientUrls[0] ??
    "https://127.0.0.1:2379";
  const has = (p: string) => c.certificates.some((x) => x.path === p);
  const client =
    has("etcd/healthcheck-client.crt") || !has("apiserver-etcd-client.crt")
      ? "etcd/healthcheck-client"
      : "apiserver-etcd-client";
  const d = c.certificatesDir;
  return `etcdctl --endpoints=${endpoint} --cacert=${d}/etcd/ca.crt --cert=${d}/${client}.crt --key=${d}/${client}.key ${args}`;
}

/** A host that is to become a master: same kubelet minor, free ports, kernel settings, empty manifests. */
export function masterFindings(h: HostFacts, c: ClusterFacts): Finding[] {
  const f: Finding[] = [];
  const err = (message: string, fix?: string) => f.push({ severity: "error", host: h.name, message, fix });
  if (!h.kubeletVersion) {
    err("kubelet not found (`kubelet --version` failed)", `install kubelet ${c.kubernetesVersion}`);
  } else if (minor(h.kubeletVersion) !== minor(c.kubernetesVersion)) {
    err(
      `kubelet ${h.kubeletVersion} does not match the cluster's minor version ${minor(c.kubernetesVersion)}`,
      `install kubelet ${c.kubernetesVersion}`,
    );
  }
  if (!h.containerRuntime)
    err("no container runtime found (containerd, CRI-O or Docker)", "install containerd");
  if (h.busyPorts.length) {
    err(`ports already in use: ${h.busyPorts.join(", ")}`, "stop what listens there (`ss -tlnp` shows it)");
  }
  if (h.ipForward === false) {
    err("net.ipv4.ip_forward is 0", "sysctl -w net.ipv4.ip_forward=1 (and persist it in /etc/sysctl.d)");
  }
  if (h.brNetfilter === false) {
    err(
      "br_netfilter is not loaded (/proc/sys/net/bridge/bridge-nf-call-iptables missing or 0)",
      "modprobe br_netfilter; sysctl -w net.bridge.bridge-nf-call-iptables=1",
    );
  }
  // Only a skew beyond the limit by more than the measurement's own error: a slow probe (a loaded
  // host) must not look like a wrong clock.
  const skewError = h.clockSkewErrorMs ?? 0;
  if (h.clockSkewMs !== undefined && Math.abs(h.clockSkewMs) - skewError > MAX_CLOCK_SKEW_MS) {
    err(
      `clock differs from ${c.primary.name}'s by ${(h.clockSkewMs / 1000).toFixed(1)} s (± ${(skewError / 1000).toFixed(1)} s)`,
      "run NTP (chrony) on every node",
    );
  }
  f.push(...runtimeFindings(h, c));
  if (h.manifests.length) {
    err(
      `/etc/kubernetes/manifests is not empty (${h.manifests.join(", ")}): this host already runs static pods`,
      "use a clean host, or clear the directory if it is left over from an earlier attempt",
    );
  }
  return f;
}

/**
 * Copies of a control-plane manifest left in a running master's manifests directory (an editor's or
 * an older kubeha's `kube-apiserver.yaml.bak`): the kubelet runs every non-hidden file there, and when
 * two define one pod, which runs is undefined (kubernetes/kubernetes#136962), possibly the stale one.
 */
export function strayManifestFindings(h: HostFacts): Finding[] {
  const stray = h.manifests.filter(
    (file) =>
      !file.startsWith(".") &&
      COMPONENTS.some((c) => file !== `${c}.yaml` && (file.startsWith(`${c}.`) || file.startsWith(`${c}-`))),
  );
  if (!stray.length) return [];
  return [
    {
      severity: "error",
      host: h.name,
      message: `/etc/kubernetes/manifests holds copies of control-plane manifests (${stray.join(", ")}): the kubelet runs every non-hidden file there, and may run a stale copy instead of the manifest`,
      fix: `move them out of the directory, e.g. mkdir -p /etc/kubernetes/tmp/old && mv ${stray.map((f) => `/etc/kubernetes/manifests/${f}`).join(" ")} /etc/kubernetes/tmp/old/`,
    },
  ];
}

export function loadBalancerFindings(h: HostFacts, port: number): Finding[] {
  const f: Finding[] = [];
  if (!h.nginx) {
    f.push({
      severity: "error",
      host: h.name,
      message: "nginx is not installed",
      fix: "apt-get install nginx-light libnginx-mod-stream (Debian/Ubuntu)",
    });
  } else if (h.nginx.stream === "missing") {
    f.push({
      severity: "error",
      host: h.name,
      message: "nginx has no stream module (needed for a layer-4 load balancer)",
      fix: "apt-get install libnginx-mod-stream (Debian/Ubuntu), or use nginx-full / nginx-extras; on RHEL: nginx-mod-stream",
    });
  }
  if (h.nginx?.testError) {
    f.push({
      severity: "error",
      host: h.name,
      message: `nginx's current configuration fails its own test (nginx -T: ${h.nginx.testError})`,
      fix: "fix it first (`nginx -t` says where): kubeha does not change an nginx that is already broken",
    });
  }
  // An existing stream {} block takes kubeha's servers, unless something in it is in their way.
  for (const b of h.nginx?.otherStreamBlocks ?? []) {
    for (const c of mergeConflicts(b, port)) {
      f.push({
        severity: "error",
        host: h.name,
        message: `nginx's stream {} block (${b.file} line ${b.line}) cannot take kubeha's load balancer: ${c.why}`,
        fix: c.fix,
      });
    }
  }
  if (!h.nginx?.otherStreamBlocks?.length) {
    for (const file of h.nginx?.dormantStreamFiles ?? []) {
      f.push({
        severity: "error",
        host: h.name,
        message: `${file} is not read by nginx now, but kubeha's \`include ${STREAM_DIR}/*.conf;\` at nginx.conf's top level would start serving it`,
        fix: `move it out of ${STREAM_DIR}; or, to keep serving a stream {} block of yours, include it from nginx.conf's top level and reload nginx (kubeha then adds its servers inside that block)`,
      });
    }
  }
  if (h.busyPorts.includes(port)) {
    f.push({
      severity: "error",
      host: h.name,
      message: `port ${port} is already in use`,
      fix: "free it or choose another loadBalancer.port",
    });
  }
  return f;
}
