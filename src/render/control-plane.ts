/**
 * Static pod manifests for a new master, rendered from the primary's own manifests: the template for
 * each component (templates/manifests/<component>.node.yaml.hbs) names the node-specific values, and
 * everything else the operator customised is kept. After rendering, no trace of the primary's address
 * or name may remain except where the template allows it (etcd's member list).
 */
import { parse as parseYaml } from "yaml";
import { KubehaError } from "../errors.js";
import {
  ANNOTATION_ETCD_CLIENT_URLS,
  PROBE_KINDS,
  argvStrings,
  cloneManifest,
  formatArg,
  getFlag,
  hasFlag,
  parseManifest,
  serializeManifest,
  setFlag,
  type StaticPodManifest,
} from "./manifest.js";
import { renderTemplate } from "./template.js";
import {
  addressForms,
  formatURL,
  hostPort,
  isLoopback,
  isUnspecified,
  loopbackFor,
  makeURL,
  parseURL,
  sameHost,
  swapURLHosts,
  tokenRegExp,
  unbracket,
} from "./net.js";

/** A control-plane node as the renderers need it: its Kubernetes node name and advertise address. */
export interface NodeRef {
  name: string;
  address: string;
}

export type Component = "etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";
export const COMPONENTS: readonly Component[] = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
];

/** Where kubeadm keeps a component's manifest. */
export function manifestPath(component: Component): string {
  return `/etc/kubernetes/manifests/${component}.yaml`;
}

/** One etcd member as `--initial-cluster` lists it (`name=peerURL`). */
export interface EtcdPeer {
  name: string;
  peerURL: string;
}

/** A manifest rendered for one node: where it goes, its text, its model, and what changed, in words. */
export interface RenderedManifest {
  component: Component;
  node: string;
  path: string;
  text: string;
  manifest: StaticPodManifest;
  /** One line per change against the primary's manifest: `--name: master-1 → master-2`. */
  changes: string[];
}

/** What every per-node renderer takes. `file` names the primary's manifest in errors. */
export interface NodeRenderInput {
  primary: NodeRef;
  node: NodeRef;
  file?: string;
}

export interface EtcdRenderInput extends NodeRenderInput {
  /** The members `--initial-cluster` lists: the current ones plus this node (added when missing). */
  initialCluster: EtcdPeer[];
}

/** An etcd peer URL for an address (`https://[fd00::2]:2380` for IPv6). */
export function etcdPeerURL(address: string, port: number | string = 2380, scheme = "https"): string {
  return makeURL(scheme, address, port);
}

/** An etcd client URL for an address. */
export function etcdClientURL(address: string, port: number | string = 2379, scheme = "https"): string {
  return makeURL(scheme, address, port);
}

/** `name=url,name=url` as etcd's --initial-cluster wants it. */
export function formatInitialCluster(peers: EtcdPeer[]): string {
  return peers.map((p) => `${p.name}=${p.peerURL}`).join(",");
}

/** Parse --initial-cluster (a member with several peer URLs appears once per URL). */
export function parseInitialCluster(value: string): EtcdPeer[] {
  return value
    .split(",")
    .filter((s) => s !== "")
    .map((entry) => {
      const eq = entry.indexOf("=");
      if (eq <= 0)
        throw new KubehaError(`--initial-cluster entry ${JSON.stringify(entry)} is not name=peerURL`);
      return { name: entry.slice(0, eq), peerURL: entry.slice(eq + 1) };
    });
}

// ---- the overlay a template renders to ----

interface AddressSwap {
  from: string;
  to: string;
  /** exact: a flag value equal to `from`; address: also `from:port` and URL hosts in a list. */
  match: "exact" | "address";
}

interface Overlay {
  flags: Record<string, string>;
  annotations: Record<string, string>;
  probeHosts: AddressSwap[];
  replaceValues: AddressSwap[];
  allowPrimaryIn: string[];
}

function readOverlay(text: string, template: string): Overlay {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new KubehaError(
      `template ${template} rendered invalid YAML: ${(err as Error).message.split("\n")[0]}`,
    );
  }
  const r = (raw ?? {}) as Record<string, unknown>;
  const map = (v: unknown, field: string): Record<string, string> => {
    if (v === undefined || v === null) return {};
    if (typeof v !== "object" || Array.isArray(v))
      throw new KubehaError(`template ${template}: ${field} is not a map`);
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
  };
  const swaps = (v: unknown, field: string): AddressSwap[] => {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw new KubehaError(`template ${template}: ${field} is not a list`);
    return v.map((s: Record<string, unknown>) => ({
      from: String(s.from),
      to: String(s.to),
      match: s.match === "exact" ? "exact" : "address",
    }));
  };
  return {
    flags: map(r.flags, "flags"),
    annotations: map(r.annotations, "annotations"),
    probeHosts: swaps(r.probeHosts, "probeHosts"),
    replaceValues: swaps(r.replaceValues, "replaceValues"),
    allowPrimaryIn: Array.isArray(r.allowPrimaryIn) ? r.allowPrimaryIn.map(String) : [],
  };
}

/** Replace `from` by `to` in a value: whole value, `from:port`, or URL hosts in a comma list. */
function swapInValue(value: string, swap: AddressSwap): string {
  if (sameHost(value, swap.from)) return unbracket(swap.to);
  if (swap.match === "exact") return value;
  const hp = /^(\[[^\]]+\]|[^:[\]]+):(\d+)$/.exec(value);
  if (hp && sameHost(hp[1] ?? "", swap.from)) return hostPort(swap.to, hp[2] ?? "");
  return swapURLHosts(value, swap.from, swap.to);
}

function applyOverlay(m: StaticPodManifest, overlay: Overlay): void {
  for (const swap of overlay.replaceValues) {
    for (const arg of m.argv) {
      if (arg.kind === "flag" && arg.value !== undefined) arg.value = swapInValue(arg.value, swap);
    }
  }
  for (const [name, value] of Object.entries(overlay.flags)) setFlag(m, name, value);
  for (const [key, value] of Object.entries(overlay.annotations)) m.annotations[key] = value;
  for (const kind of PROBE_KINDS) {
    const probe = m.probes[kind];
    if (!probe?.host) continue;
    for (const swap of overlay.probeHosts) {
      if (sameHost(probe.host, swap.from)) probe.host = unbracket(swap.to);
    }
  }
}

// ---- the safety net ----

/**
 * Throw when the primary's address or name is still in a rendered manifest, outside the flags listed
 * in `allowIn`: it would make the new master lean on the primary (or fail to start).
 */
export function assertNoPrimaryLeft(
  m: StaticPodManifest,
  primary: NodeRef,
  node: NodeRef,
  allowIn: string[] = [],
): void {
  const addressRes = addressForms(primary.address).map(tokenRegExp);
  const nameRe = tokenRegExp(primary.name);
  const found: string[] = [];
  const check = (where: string, value: string, byName: boolean) => {
    if (addressRes.some((re) => re.test(value)))
      found.push(`${where} (${value}) names the primary's address`);
    else if (byName && nameRe.test(value)) found.push(`${where} (${value}) names the primary`);
  };
  m.argv.forEach((arg, i) => {
    if (arg.kind === "flag" && allowIn.includes(arg.name)) return;
    check(`command[${i}]`, formatArg(arg), true);
  });
  for (const [k, v] of Object.entries(m.annotations)) check(`annotation ${k}`, v, true);
  for (const [k, v] of Object.entries(m.labels)) check(`label ${k}`, v, false);
  // Everything else in the document: volumes, env, probes, fields the model does not know.
  const rendered = parseYaml(serializeManifest(m)) as Record<string, unknown>;
  const spec = structuredClone(rendered.spec) as Record<string, unknown>;
  const containers = (spec.containers as Record<string, unknown>[] | undefined) ?? [];
  for (const c of containers) {
    delete c.command;
    delete c.args;
  }
  walkStrings(spec, "spec", (where, value) => check(where, value, false));
  if (found.length > 0) {
    throw new KubehaError(
      `${m.file}: rendering ${m.podName} for ${node.name} left the primary ${primary.name} (${primary.address}) in it: ` +
        `${found.join("; ")}; kubeha does not know how to map this value to ${node.name}, change it on the primary or remove it`,
    );
  }
}

function walkStrings(value: unknown, where: string, visit: (where: string, value: string) => void): void {
  if (typeof value === "string") visit(where, value);
  else if (Array.isArray(value)) value.forEach((v, i) => walkStrings(v, `${where}[${i}]`, visit));
  else if (value !== null && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) walkStrings(v, `${where}.${k}`, visit);
  }
}

// ---- change descriptions for the plan ----

/** What differs between two manifests' flags, annotations and probe hosts, one line each. */
export function describeChanges(before: StaticPodManifest, after: StaticPodManifest): string[] {
  const out: string[] = [];
  const flagMap = (m: StaticPodManifest) => {
    const map = new Map<string, string[]>();
    for (const a of m.argv)
      if (a.kind === "flag") map.set(a.name, [...(map.get(a.name) ?? []), a.value ?? ""]);
    return map;
  };
  const b = flagMap(before);
  const a = flagMap(after);
  for (const [name, values] of a) {
    const old = b.get(name);
    if (!old) out.push(`add --${name}=${values.join(" --" + name + "=")}`);
    else if (old.join("\0") !== values.join("\0"))
      out.push(`--${name}: ${old.join(",")} → ${values.join(",")}`);
  }
  for (const name of b.keys()) if (!a.has(name)) out.push(`remove --${name}`);
  for (const [k, v] of Object.entries(after.annotations)) {
    if (before.annotations[k] !== v) out.push(`annotation ${k}: ${before.annotations[k] ?? "(none)"} → ${v}`);
  }
  for (const kind of PROBE_KINDS) {
    const x = before.probes[kind]?.host;
    const y = after.probes[kind]?.host;
    if (x !== y) out.push(`${kind} host: ${x ?? "(none)"} → ${y ?? "(none)"}`);
  }
  return out;
}

// ---- the renderers ----

function checkNodes(input: NodeRenderInput, file: string): void {
  if (input.node.name === input.primary.name || sameHost(input.node.address, input.primary.address)) {
    throw new KubehaError(`${file}: the new master ${input.node.name} has the primary's name or address`);
  }
}

function finish(
  component: Component,
  primaryModel: StaticPodManifest,
  m: StaticPodManifest,
  input: NodeRenderInput,
  allowIn: string[],
): RenderedManifest {
  assertNoPrimaryLeft(m, input.primary, input.node, allowIn);
  const text = serializeManifest(m);
  // The output must read back as the same model.
  const reread = parseManifest(text, `${input.node.name}:${manifestPath(component)}`);
  if (argvStrings(reread).join("\n") !== argvStrings(m).join("\n")) {
    throw new KubehaError(
      `${m.file}: the rendered ${component} manifest for ${input.node.name} does not read back`,
    );
  }
  return {
    component,
    node: input.node.name,
    path: manifestPath(component),
    text,
    manifest: reread,
    changes: describeChanges(primaryModel, reread),
  };
}

function urlPart(m: StaticPodManifest, flag: string, fallbackPort: number): { scheme: string; port: string } {
  const first = (getFlag(m, flag) ?? "").split(",")[0] ?? "";
  const u = parseURL(first);
  return { scheme: u?.scheme ?? "https", port: u?.port ?? String(fallbackPort) };
}

/** Map a listen-URL list from the primary to the node: its address → the node's; loopback and 0.0.0.0 kept. */
function mapListenURLs(
  list: string,
  input: NodeRenderInput,
  flag: string,
  file: string,
  opts: { loopbackToNode: boolean },
): string[] {
  const out: string[] = [];
  for (const item of list.split(",").filter((s) => s !== "")) {
    const u = parseURL(item);
    if (!u) throw new KubehaError(`${file}: --${flag} has ${JSON.stringify(item)}, which is not a URL`);
    let mapped: string;
    if (sameHost(u.host, input.primary.address))
      mapped = formatURL({ ...u, host: unbracket(input.node.address) });
    else if (isUnspecified(u.host)) mapped = item;
    else if (isLoopback(u.host)) {
      mapped = opts.loopbackToNode ? formatURL({ ...u, host: unbracket(input.node.address) }) : item;
    } else {
      throw new KubehaError(
        `${file}: --${flag} has ${item}, an address that is neither the primary's (${input.primary.address}) nor ` +
          `loopback: kubeha cannot tell what it should be on ${input.node.name}`,
      );
    }
    if (!out.includes(mapped)) out.push(mapped);
  }
  return out;
}

/**
 * etcd for a new member: its name, advertise/listen URLs on its own address (listen-client keeps
 * loopback for the local apiserver), `--initial-cluster` from `initialCluster`,
 * `--initial-cluster-state=existing`, and the advertise-client-urls annotation.
 */
export function renderEtcdForNode(primaryText: string, input: EtcdRenderInput): RenderedManifest {
  const file = input.file ?? `${input.primary.name}:${manifestPath("etcd")}`;
  checkNodes(input, file);
  const primary = parseManifest(primaryText, file);
  const m = cloneManifest(primary);
  const client = urlPart(primary, "advertise-client-urls", 2379);
  const peer = urlPart(primary, "initial-advertise-peer-urls", 2380);
  const advertiseClientURLs = etcdClientURL(input.node.address, client.port, client.scheme);
  const advertisePeerURLs = etcdPeerURL(input.node.address, peer.port, peer.scheme);

  const listenClient = mapListenURLs(
    getFlag(primary, "listen-client-urls") ?? "",
    input,
    "listen-client-urls",
    file,
    { loopbackToNode: false },
  );
  if (
    !listenClient.some((u) => isLoopback(parseURL(u)?.host ?? "") || isUnspecified(parseURL(u)?.host ?? ""))
  ) {
    listenClient.unshift(etcdClientURL(loopbackFor(input.node.address), client.port, client.scheme));
  }
  if (
    !listenClient.some((u) => isUnspecified(parseURL(u)?.host ?? "")) &&
    !listenClient.includes(advertiseClientURLs)
  ) {
    listenClient.push(advertiseClientURLs);
  }
  const listenPeer = mapListenURLs(
    getFlag(primary, "listen-peer-urls") ?? "",
    input,
    "listen-peer-urls",
    file,
    {
      loopbackToNode: true,
    },
  );
  if (
    !listenPeer.some((u) => isUnspecified(parseURL(u)?.host ?? "")) &&
    !listenPeer.includes(advertisePeerURLs)
  ) {
    listenPeer.push(advertisePeerURLs);
  }
  const metrics = getFlag(primary, "listen-metrics-urls");

  const peers = [...input.initialCluster];
  const names = new Set<string>();
  for (const p of peers) {
    if (names.has(p.name))
      throw new KubehaError(`${file}: --initial-cluster for ${input.node.name} lists ${p.name} twice`);
    names.add(p.name);
  }
  const self = peers.find((p) => p.name === input.node.name);
  if (!self) peers.push({ name: input.node.name, peerURL: advertisePeerURLs });
  else if (!sameHost(parseURL(self.peerURL)?.host ?? "", input.node.address)) {
    throw new KubehaError(
      `${file}: --initial-cluster lists ${input.node.name} at ${self.peerURL}, not at its address ${input.node.address}`,
    );
  }

  const template = "manifests/etcd.node.yaml.hbs";
  const overlay = readOverlay(
    renderTemplate(template, {
      primary: input.primary,
      node: input.node,
      advertiseClientURLs,
      advertisePeerURLs,
      listenClientURLs: listenClient.join(","),
      listenPeerURLs: listenPeer.join(","),
      listenMetricsURLs:
        metrics === undefined ? null : swapURLHosts(metrics, input.primary.address, input.node.address),
      initialCluster: formatInitialCluster(peers),
    }),
    template,
  );
  applyOverlay(m, overlay);
  return finish("etcd", primary, m, input, overlay.allowPrimaryIn);
}

/**
 * kube-apiserver for a new master: its advertise address (flag, annotation, probe hosts) and
 * `--etcd-servers` at its local etcd member; every other flag and volume kept.
 */
export function renderApiserverForNode(primaryText: string, input: NodeRenderInput): RenderedManifest {
  const file = input.file ?? `${input.primary.name}:${manifestPath("kube-apiserver")}`;
  checkNodes(input, file);
  const primary = parseManifest(primaryText, file);
  if (!hasFlag(primary, "advertise-address"))
    throw new KubehaError(`${file}: --advertise-address is missing`);
  const m = cloneManifest(primary);
  const securePort = getFlag(primary, "secure-port") ?? "6443";
  const etcd = urlPart(primary, "etcd-servers", 2379);
  const template = "manifests/kube-apiserver.node.yaml.hbs";
  const overlay = readOverlay(
    renderTemplate(template, {
      primary: input.primary,
      node: input.node,
      etcdServers: etcdClientURL(loopbackFor(input.node.address), etcd.port, etcd.scheme),
      advertiseEndpoint: hostPort(input.node.address, securePort),
    }),
    template,
  );
  applyOverlay(m, overlay);
  return finish("kube-apiserver", primary, m, input, overlay.allowPrimaryIn);
}

function renderLocalComponent(
  component: "kube-controller-manager" | "kube-scheduler",
  primaryText: string,
  input: NodeRenderInput,
): RenderedManifest {
  const file = input.file ?? `${input.primary.name}:${manifestPath(component)}`;
  checkNodes(input, file);
  const primary = parseManifest(primaryText, file);
  const m = cloneManifest(primary);
  const template = `manifests/${component}.node.yaml.hbs`;
  const overlay = readOverlay(
    renderTemplate(template, { primary: input.primary, node: input.node }),
    template,
  );
  applyOverlay(m, overlay);
  return finish(component, primary, m, input, overlay.allowPrimaryIn);
}

/** kube-controller-manager for a new master: kept as it is, but for the primary's address used as a value. */
export function renderControllerManagerForNode(
  primaryText: string,
  input: NodeRenderInput,
): RenderedManifest {
  return renderLocalComponent("kube-controller-manager", primaryText, input);
}

/** kube-scheduler for a new master: kept as it is, but for the primary's address used as a value. */
export function renderSchedulerForNode(primaryText: string, input: NodeRenderInput): RenderedManifest {
  return renderLocalComponent("kube-scheduler", primaryText, input);
}

/** All four manifests for a new master from the primary's four (texts keyed by component). */
export function renderControlPlaneForNode(
  primaryManifests: Record<Component, string>,
  input: EtcdRenderInput,
): RenderedManifest[] {
  return [
    renderEtcdForNode(primaryManifests.etcd, input),
    renderApiserverForNode(primaryManifests["kube-apiserver"], input),
    renderControllerManagerForNode(primaryManifests["kube-controller-manager"], input),
    renderSchedulerForNode(primaryManifests["kube-scheduler"], input),
  ];
}

// ---- the primary's own etcd, when an old kubeadm made it unreachable for peers ----

/** Why peers could not reach the primary's etcd as its manifest stands; empty when they can. */
export function etcdPeerProblems(m: StaticPodManifest, primary: NodeRef): string[] {
  const problems: string[] = [];
  const hosts = (flag: string) =>
    (getFlag(m, flag) ?? "")
      .split(",")
      .filter((s) => s !== "")
      .map((u) => parseURL(u)?.host ?? u);
  const advertisePeer = hosts("initial-advertise-peer-urls");
  if (advertisePeer.length === 0 || advertisePeer.some((h) => isLoopback(h) || isUnspecified(h))) {
    problems.push(
      `--initial-advertise-peer-urls is ${getFlag(m, "initial-advertise-peer-urls") ?? "(missing)"}`,
    );
  }
  const listenPeer = hosts("listen-peer-urls");
  if (!listenPeer.some((h) => sameHost(h, primary.address) || isUnspecified(h))) {
    problems.push(`--listen-peer-urls is ${getFlag(m, "listen-peer-urls") ?? "(missing)"}`);
  }
  const listenClient = hosts("listen-client-urls");
  if (!listenClient.some((h) => sameHost(h, primary.address) || isUnspecified(h))) {
    problems.push(`--listen-client-urls is ${getFlag(m, "listen-client-urls") ?? "(missing)"}`);
  }
  const advertiseClient = hosts("advertise-client-urls");
  if (advertiseClient.length === 0 || advertiseClient.some((h) => isLoopback(h) || isUnspecified(h))) {
    problems.push(`--advertise-client-urls is ${getFlag(m, "advertise-client-urls") ?? "(missing)"}`);
  }
  return problems;
}

/** The primary's etcd manifest rewritten so that peers can reach it, and what was changed. */
export interface PrimaryEtcdRewrite {
  /** False when the manifest was already reachable; `text` is then the input unchanged. */
  changed: boolean;
  text: string;
  changes: string[];
  /** The member's new peer URL, for `memberUpdate` (and its new peer certificate's SANs). */
  peerURL: string;
}

/**
 * For a primary whose etcd an old kubeadm set up on `https://localhost:2380` or 127.0.0.1 only: put its
 * real address in the peer URLs (listen and advertise), the client advertise URL, listen-client
 * (loopback kept) and its own `--initial-cluster` entry. The member's peer URL must be changed with
 * `memberUpdate` and its certificates re-issued with the address before this manifest is written.
 */
export function rewritePrimaryEtcdForPeers(
  text: string,
  primary: NodeRef,
  file?: string,
): PrimaryEtcdRewrite {
  const where = file ?? `${primary.name}:${manifestPath("etcd")}`;
  const before = parseManifest(text, where);
  const peer = urlPart(before, "initial-advertise-peer-urls", 2380);
  const client = urlPart(before, "advertise-client-urls", 2379);
  const peerURL = etcdPeerURL(primary.address, peer.port, peer.scheme);
  if (etcdPeerProblems(before, primary).length === 0) return { changed: false, text, changes: [], peerURL };

  const m = cloneManifest(before);
  const clientURL = etcdClientURL(primary.address, client.port, client.scheme);
  const toReal = (list: string): string[] =>
    list
      .split(",")
      .filter((s) => s !== "")
      .map((u) => {
        const p = parseURL(u);
        return p && (isLoopback(p.host) || sameHost(p.host, primary.address))
          ? formatURL({ ...p, host: unbracket(primary.address) })
          : u;
      });
  const dedupe = (xs: string[]) => [...new Set(xs)];

  setFlag(m, "initial-advertise-peer-urls", peerURL);
  setFlag(m, "advertise-client-urls", clientURL);
  const listenPeer = dedupe(toReal(getFlag(before, "listen-peer-urls") ?? ""));
  if (!listenPeer.some((u) => isUnspecified(parseURL(u)?.host ?? "")) && !listenPeer.includes(peerURL))
    listenPeer.push(peerURL);
  setFlag(m, "listen-peer-urls", listenPeer.join(","));
  const listenClient = (getFlag(before, "listen-client-urls") ?? "").split(",").filter((s) => s !== "");
  if (
    !listenClient.some((u) => isLoopback(parseURL(u)?.host ?? "") || isUnspecified(parseURL(u)?.host ?? ""))
  ) {
    listenClient.unshift(etcdClientURL(loopbackFor(primary.address), client.port, client.scheme));
  }
  if (
    !listenClient.some((u) => {
      const h = parseURL(u)?.host ?? "";
      return sameHost(h, primary.address) || isUnspecified(h);
    })
  ) {
    listenClient.push(clientURL);
  }
  setFlag(m, "listen-client-urls", listenClient.join(","));
  const cluster = getFlag(before, "initial-cluster");
  if (cluster !== undefined) {
    const peers = parseInitialCluster(cluster).map((p) => (p.name === primary.name ? { ...p, peerURL } : p));
    setFlag(m, "initial-cluster", formatInitialCluster(peers));
  }
  if (ANNOTATION_ETCD_CLIENT_URLS in m.annotations) m.annotations[ANNOTATION_ETCD_CLIENT_URLS] = clientURL;
  const out = serializeManifest(m);
  const reread = parseManifest(out, where);
  const left = etcdPeerProblems(reread, primary);
  if (left.length > 0)
    throw new KubehaError(`${where}: could not make etcd reachable for peers: ${left.join("; ")}`);
  return { changed: true, text: out, changes: describeChanges(before, reread), peerURL };
}
