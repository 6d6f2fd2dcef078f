/**
 * Reading what the references scan looks at: the cluster's objects through the API (read only,
 * listed in pages), a few files on each host (only the lines that hold the apiserver's port, found
 * by `grep` on the host: keys and tokens never leave it), and the operator's own kubeconfig.
 */
import { readFile } from "node:fs/promises";
import { InputError } from "../errors.js";
import type { ClusterFacts } from "../discover/types.js";
import type { Inventory } from "../inventory/types.js";
import { KubeApiError, type KubeClient } from "../kube/client.js";
import { serverUrl } from "../pki/kubeconfig.js";
import { shellQuote } from "../ssh/shell-quote.js";
import type { Host } from "../ssh/types.js";
import type { Report } from "./format.js";
import type { Endpoint, Target } from "./match.js";
import {
  merge,
  numberedLines,
  scanCallbacks,
  scanConfigMap,
  scanFileLines,
  scanSecret,
  scanWorkload,
  type FileLine,
  type ObjectFix,
  type Scan,
  type ScannedObject,
} from "./scan.js";

/** The primary's apiserver as discovery found it: advertise and SSH address, hostname and node name. */
export function targetOf(inv: Inventory, cluster: ClusterFacts): Target {
  return {
    addresses: [...new Set([cluster.advertiseAddress, inv.primary.address])],
    names: [...new Set([cluster.primary.hostname, inv.primary.name])],
    port: cluster.securePort,
  };
}

/** The load balancer as clients use it: where every reference must point instead. */
export function endpointOf(inv: Inventory): Endpoint {
  return { address: inv.loadBalancer.address, port: inv.loadBalancer.port };
}

type Scanner = (o: ScannedObject, t: Target, lb: Endpoint) => Scan;

/** The kinds scanned, cluster-wide. List items carry no kind: it is set from here. */
const KINDS: { path: string; kind: string; scan: Scanner }[] = [
  { path: "/api/v1/configmaps", kind: "ConfigMap", scan: scanConfigMap },
  { path: "/api/v1/secrets", kind: "Secret", scan: scanSecret },
  { path: "/apis/apps/v1/daemonsets", kind: "DaemonSet", scan: scanWorkload },
  { path: "/apis/apps/v1/deployments", kind: "Deployment", scan: scanWorkload },
  { path: "/apis/apps/v1/statefulsets", kind: "StatefulSet", scan: scanWorkload },
  {
    path: "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations",
    kind: "ValidatingWebhookConfiguration",
    scan: scanCallbacks,
  },
  {
    path: "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations",
    kind: "MutatingWebhookConfiguration",
    scan: scanCallbacks,
  },
  { path: "/apis/apiregistration.k8s.io/v1/apiservices", kind: "APIService", scan: scanCallbacks },
];

/**
 * The files looked at on every host: kubeconfigs and kubelet defaults outside what kubeha manages,
 * and CNI configurations (which often carry their own kubeconfig). Shell globs.
 */
export const HOST_FILES = [
  "/etc/kubernetes/*.conf",
  "/root/.kube/config",
  "/home/*/.kube/config",
  "/etc/default/kubelet",
  "/etc/sysconfig/kubelet",
  "/etc/cni/net.d/*",
];

/**
 * kubeha's own files, left out: apply moves admin.conf, super-admin.conf and kubelet.conf to the
 * LB; controller-manager.conf and scheduler.conf talk to their own master's apiserver by design.
 */
export const MANAGED_FILES = new Set(
  ["admin", "super-admin", "kubelet", "controller-manager", "scheduler"].map(
    (n) => `/etc/kubernetes/${n}.conf`,
  ),
);

/** kubectl's page size. */
export const PAGE = 500;

/**
 * The page size to ask again with after `err`: half, when the apiserver could not hold the page in
 * one message (its etcd client's gRPC limit: "RESOURCE_EXHAUSTED: Received message larger than
 * max"); undefined for any other error, or when a page of one object is already too large.
 */
export function smallerPage(limit: number, err: unknown): number | undefined {
  if (!(err instanceof KubeApiError) || err.status !== 500) return undefined;
  if (!/RESOURCE_EXHAUSTED|ResourceExhausted|larger than max/.test(err.message)) return undefined;
  return limit > 1 ? Math.floor(limit / 2) : undefined;
}

/** Every object under `path`, page by page; a page too large is asked for again, smaller, and so are the next. */
export async function listAll(kube: Pick<KubeClient, "get">, path: string): Promise<ScannedObject[]> {
  const items: ScannedObject[] = [];
  let limit = PAGE;
  let token: string | undefined;
  for (;;) {
    let page: { items?: ScannedObject[]; metadata?: { continue?: string } };
    try {
      page = await kube.get(`${path}?limit=${limit}${token ? `&continue=${encodeURIComponent(token)}` : ""}`);
    } catch (err) {
      const smaller = smallerPage(limit, err);
      if (smaller === undefined) throw err;
      limit = smaller; // the same page again
      continue;
    }
    items.push(...(page.items ?? []));
    token = page.metadata?.continue || undefined;
    if (!token) return items;
  }
}

/** Every object of the scanned kinds; a kind the API does not serve or lets us read is named in `skipped`. */
export async function scanObjects(
  kube: KubeClient,
  t: Target,
  lb: Endpoint,
): Promise<Scan & { skipped: string[] }> {
  const scans = await Promise.all(
    KINDS.map(async (k) => {
      try {
        const items = await listAll(kube, k.path);
        return { ...merge(items.map((o) => k.scan({ ...o, kind: k.kind }, t, lb))), skipped: [] };
      } catch (err) {
        if (!(err instanceof KubeApiError) || ![403, 404].includes(err.status)) throw err;
        return { references: [], fixes: [], skipped: [`${k.kind}s (HTTP ${err.status})`] };
      }
    }),
  );
  return { ...merge(scans), skipped: scans.flatMap((s) => s.skipped) };
}

/** `path\0line:text` records of `grep -nHZ`, without kubeha's own files. */
export function parseGrep(output: string): Map<string, FileLine[]> {
  const out = new Map<string, FileLine[]>();
  for (const record of output.split("\n")) {
    const nul = record.indexOf("\0");
    const m = /^(\d+):(.*)$/s.exec(record.slice(nul + 1));
    if (nul < 0 || !m) continue;
    const path = record.slice(0, nul);
    if (MANAGED_FILES.has(path)) continue;
    out.set(path, [...(out.get(path) ?? []), { line: Number(m[1]), text: m[2] ?? "" }]);
  }
  return out;
}

/** The lines of HOST_FILES on `host` that hold `:<port>`, as root; nothing else is read. */
export async function scanHostFiles(host: Host, t: Target, lb: Endpoint): Promise<Scan> {
  // Globs are expanded by the remote shell; a missing file or a directory is passed over (-s).
  const cmd = `${shellQuote(["grep", "-nHIsZF", "-e", `:${t.port}`, "--"])} ${HOST_FILES.join(" ")} || true`;
  const r = await host.exec(cmd);
  const references = [...parseGrep(r.stdout)].flatMap(([path, lines]) =>
    scanFileLines(
      `${host.name}:${path}`,
      lines,
      t,
      lb,
      `edit ${path} on ${host.name}: point it at ${serverUrl(lb.address, lb.port)}`,
    ),
  );
  return { references, fixes: [] };
}

/** The operator's own kubeconfig (`--kubeconfig`), read on this machine. */
export async function scanLocalKubeconfig(path: string, t: Target, lb: Endpoint): Promise<Scan> {
  const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
    throw new InputError(`--kubeconfig ${path}: cannot be read (${err.code ?? err.message})`);
  });
  const references = scanFileLines(
    `kubeconfig ${path}`,
    numberedLines(text),
    t,
    lb,
    `kubectl --kubeconfig ${path} config set-cluster <its cluster> --server=${serverUrl(lb.address, lb.port)}`,
  );
  return { references, fixes: [] };
}

export interface Collected extends Report {
  fixes: ObjectFix[];
}

/**
 * The whole scan: the API's objects, every reachable host's files, and the operator's kubeconfig
 * when one is given. A host that cannot be read is named in `skipped`.
 */
export async function collectReferences(input: {
  kube: KubeClient;
  hosts: Host[];
  target: Target;
  lb: Endpoint;
  kubeconfig?: string;
}): Promise<Collected> {
  const { target: t, lb } = input;
  const hostScans = input.hosts.map((h) =>
    scanHostFiles(h, t, lb).then(
      (s) => ({ ...s, skipped: [] as string[] }),
      (err: unknown) => ({
        references: [],
        fixes: [],
        skipped: [`${h.name} (${err instanceof Error ? err.message : String(err)})`],
      }),
    ),
  );
  const [objects, ...files] = await Promise.all([scanObjects(input.kube, t, lb), ...hostScans]);
  const local = input.kubeconfig ? [await scanLocalKubeconfig(input.kubeconfig, t, lb)] : [];
  const all = merge([objects, ...files, ...local]);
  return { target: t, ...all, skipped: [objects, ...files].flatMap((s) => s.skipped) };
}
