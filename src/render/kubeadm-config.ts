/**
 * Edits of the cluster's own configuration objects so that they name the load balancer: the
 * ClusterConfiguration in kube-system/kubeadm-config, kube-proxy's kubeconfig.conf and
 * kube-public/cluster-info's kubeconfig. Each edit changes only what it must (YAML Document API:
 * comments, order and every other field are kept) and comes with a unified diff for the plan.
 */
import { Document, isMap, isScalar, isSeq, parseDocument, type Pair, YAMLMap, YAMLSeq } from "yaml";
import { KubehaError } from "../errors.js";
import { unifiedDiff } from "./diff.js";
import { hostPort, isIP, sameHost } from "./net.js";

/** The result of an edit: the new text, whether it differs, and a unified diff (empty when not). */
export interface TextEdit {
  text: string;
  changed: boolean;
  diff: string;
}

/** The load balancer as clients see it. */
export interface LoadBalancerEndpoint {
  address: string;
  port: number;
  dnsName?: string;
}

/** `host:port` of the LB for controlPlaneEndpoint (the DNS name when asked and known, else the address). */
export function lbEndpoint(lb: LoadBalancerEndpoint, useDnsName = false): string {
  return hostPort(useDnsName && lb.dnsName ? lb.dnsName : lb.address, lb.port);
}

/** `https://host:port` of the LB, for kubeconfigs. */
export function lbServerURL(lb: LoadBalancerEndpoint, useDnsName = false): string {
  return `https://${lbEndpoint(lb, useDnsName)}`;
}

/** The names the LB adds to apiserver certificates: its address and DNS name. */
export function lbSans(lb: LoadBalancerEndpoint): string[] {
  return lb.dnsName ? [lb.address, lb.dnsName] : [lb.address];
}

/**
 * Sequences are written the way the input writes them: kubeadm and kubectl (Go yaml) put `- item` at
 * the indentation of the parent key; some editors indent them.
 */
export function indentSeqOf(text: string): boolean {
  const m = /^( *)[^\s#-][^\n]*:[ \t]*\n\1( *)- /m.exec(text);
  return m !== null && (m[2] ?? "").length > 0;
}

function parse(text: string, file: string): Document {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new KubehaError(`${file}: not valid YAML: ${doc.errors[0]?.message.split("\n")[0] ?? ""}`);
  }
  if (!isMap(doc.contents)) throw new KubehaError(`${file}: is empty or not a YAML map`);
  return doc;
}

function finish(before: string, doc: Document, file: string): TextEdit {
  const after = doc.toString({ indentSeq: indentSeqOf(before), lineWidth: 0 });
  const text = after === before ? before : after;
  return {
    text,
    changed: text !== before,
    diff: unifiedDiff(before, text, { fromFile: `a/${file}`, toFile: `b/${file}` }),
  };
}

/** Set `key` in a map; a new key goes where alphabetical order puts it when the map is sorted (as kubeadm writes it). */
function setKeySorted(doc: Document, map: YAMLMap, key: string, value: unknown): void {
  const existing = map.items.find((p) => isScalar(p.key) && p.key.value === key);
  if (existing) {
    if (isScalar(existing.value)) existing.value.value = value;
    else existing.value = doc.createNode(value);
    return;
  }
  const keys = map.items.map((p) => (isScalar(p.key) ? String(p.key.value) : ""));
  const sorted = keys.every((k, i) => i === 0 || (keys[i - 1] ?? "") <= k);
  const pair = doc.createPair(key, value) as Pair;
  const at = sorted ? keys.findIndex((k) => k > key) : -1;
  if (at < 0) map.items.push(pair);
  else map.items.splice(at, 0, pair);
}

/**
 * The ClusterConfiguration (the `ClusterConfiguration` key of kube-system/kubeadm-config) with
 * `controlPlaneEndpoint: <endpoint>` and `sans` added to `apiServer.certSANs` (no duplicates; IPs
 * compared by value, names case-insensitively); nothing else changes.
 */
export function kubeadmConfigSetEndpoint(
  clusterConfiguration: string,
  endpoint: string,
  sans: string[],
  file = "kube-system/kubeadm-config ClusterConfiguration",
): TextEdit {
  const doc = parse(clusterConfiguration, file);
  const root = doc.contents as YAMLMap;
  const kind = doc.get("kind");
  if (kind !== undefined && kind !== "ClusterConfiguration") {
    throw new KubehaError(`${file}: kind is ${JSON.stringify(kind)}, expected ClusterConfiguration`);
  }
  if (doc.get("controlPlaneEndpoint") !== endpoint) setKeySorted(doc, root, "controlPlaneEndpoint", endpoint);

  let apiServer = doc.get("apiServer", true);
  if (apiServer === undefined || apiServer === null || (isScalar(apiServer) && apiServer.value === null)) {
    setKeySorted(doc, root, "apiServer", new YAMLMap());
    apiServer = doc.get("apiServer", true);
  }
  if (!isMap(apiServer)) throw new KubehaError(`${file}: apiServer is not a map`);
  let certSANs = apiServer.get("certSANs", true);
  const wanted = sans.filter((s) => s !== "");
  const present = isSeq(certSANs) ? certSANs.items.map((i) => String(isScalar(i) ? i.value : i)) : [];
  const missing = wanted.filter(
    (s, i) => wanted.findIndex((t) => same(t, s)) === i && !present.some((p) => same(p, s)),
  );
  if (missing.length > 0) {
    if (apiServer.flow && apiServer.items.length === 0) apiServer.flow = false;
    if (certSANs === undefined || certSANs === null || (isScalar(certSANs) && certSANs.value === null)) {
      const seq = new YAMLSeq();
      setKeySorted(doc, apiServer, "certSANs", seq);
      certSANs = apiServer.get("certSANs", true);
    }
    if (!isSeq(certSANs)) throw new KubehaError(`${file}: apiServer.certSANs is not a list`);
    if (certSANs.flow && certSANs.items.length === 0) certSANs.flow = false;
    for (const s of missing) certSANs.add(doc.createNode(s));
  }
  return finish(clusterConfiguration, doc, file);
}

function same(a: string, b: string): boolean {
  return isIP(a) && isIP(b) ? sameHost(a, b) : a.toLowerCase() === b.toLowerCase();
}

/**
 * A kubeconfig with `server` of every cluster set to `server`; nothing else changes. Throws when it
 * has no cluster.
 */
export function kubeconfigSetServer(kubeconfig: string, server: string, file = "kubeconfig"): TextEdit {
  const doc = parse(kubeconfig, file);
  const clusters = doc.get("clusters", true);
  if (!isSeq(clusters) || clusters.items.length === 0) throw new KubehaError(`${file}: clusters is missing`);
  clusters.items.forEach((item, i) => {
    if (!isMap(item)) throw new KubehaError(`${file}: clusters[${i}] is not a map`);
    const cluster = item.get("cluster", true);
    if (!isMap(cluster)) throw new KubehaError(`${file}: clusters[${i}].cluster is missing`);
    if (cluster.get("server") !== server) cluster.set("server", server);
  });
  return finish(kubeconfig, doc, file);
}

/** kube-system/kube-proxy's `kubeconfig.conf` pointed at `server` (the LB), nothing else changed. */
export function kubeProxyKubeconfigSetServer(kubeconfigConf: string, server: string): TextEdit {
  return kubeconfigSetServer(kubeconfigConf, server, "kube-system/kube-proxy kubeconfig.conf");
}

/** kube-public/cluster-info's `kubeconfig` pointed at `server` (the LB), nothing else changed. */
export function clusterInfoSetServer(kubeconfig: string, server: string): TextEdit {
  return kubeconfigSetServer(kubeconfig, server, "kube-public/cluster-info kubeconfig");
}

/** The `server` of every cluster in a kubeconfig, to check where it points. */
export function kubeconfigServers(kubeconfig: string, file = "kubeconfig"): string[] {
  const doc = parse(kubeconfig, file);
  const clusters = doc.get("clusters", true);
  if (!isSeq(clusters)) return [];
  return clusters.items.flatMap((item) => {
    const server = isMap(item) ? (item.getIn(["cluster", "server"]) as unknown) : undefined;
    return typeof server === "string" ? [server] : [];
  });
}
