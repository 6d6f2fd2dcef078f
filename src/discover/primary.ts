import { posix } from "node:path";
import { parseDocument } from "yaml";
import { InputError, KubehaError, wrap } from "../errors.js";
import type { InventoryHost } from "../inventory/types.js";
import type { Host } from "../ssh/types.js";
import { parseManifest, getFlag, type StaticPodManifest } from "../render/manifest.js";
import { isLoopback, parseURL, sameHost } from "../render/net.js";
import { inspectCertificate } from "../pki/inspect.js";
import { registerSecret } from "../ui/redact.js";
import { shellQuote } from "../ssh/shell-quote.js";
import type { CertificateFact, ClusterFacts } from "./types.js";
import { KUBEADM_LAYOUT } from "./layout.js";

export const MANIFEST_DIR = KUBEADM_LAYOUT.manifestsDir;
export const COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;
export type ComponentName = (typeof COMPONENTS)[number];

/** The static pod manifests of a control-plane node, parsed; a missing one is an error naming the file. */
export async function readManifests(
  host: Host,
): Promise<{ text: Record<ComponentName, string>; parsed: Record<ComponentName, StaticPodManifest> }> {
  const entries = await Promise.all(
    COMPONENTS.map(async (c) => {
      const path = `${MANIFEST_DIR}/${c}.yaml`;
      const data = await host.readFile(path);
      if (!data) {
        const hint =
          c === "etcd"
            ? " (no stacked etcd: an external etcd cluster is not supported by kubeha)"
            : " (is this a kubeadm control-plane node?)";
        throw new InputError(`${host.name}: ${path} not found${hint}`);
      }
      const text = data.toString("utf8");
      return [c, text, parseManifest(text, `${host.name}:${path}`)] as const;
    }),
  );
  const text = {} as Record<ComponentName, string>;
  const parsed = {} as Record<ComponentName, StaticPodManifest>;
  for (const [c, t, p] of entries) {
    text[c] = t;
    parsed[c] = p;
  }
  return { text, parsed };
}

/** Every flag of a manifest as name → value (the last one wins, as for the binaries). */
export function flagMap(m: StaticPodManifest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of m.argv) if (a.kind === "flag") out[a.name] = a.value ?? "true";
  return out;
}

function required(m: StaticPodManifest, flag: string): string {
  const v = getFlag(m, flag);
  if (v === undefined || v === "") throw new InputError(`${m.file}: flag --${flag} is missing`);
  return v;
}

/** Reads every certificate under the PKI directory in one round trip. */
export async function readCertificates(host: Host, dir: string): Promise<CertificateFact[]> {
  const out = await host.run(
    `cd ${shellQuote([dir])} && find . -name '*.crt' -type f | sort | while read -r f; do echo "@@kubeha-file $f"; cat "$f"; done`,
  );
  const facts: CertificateFact[] = [];
  for (const chunk of out.split("@@kubeha-file ").slice(1)) {
    const nl = chunk.indexOf("\n");
    const path = chunk.slice(0, nl).replace(/^\.\//, "");
    const pem = chunk.slice(nl + 1);
    try {
      const info = inspectCertificate(pem);
      facts.push({
        path,
        subject: dn(info.subject),
        issuer: dn(info.issuer),
        dnsNames: info.sans.dns,
        ipAddresses: info.sans.ips,
        notAfter: info.notAfter.toISOString(),
        isCA: info.isCA,
      });
    } catch (err) {
      throw wrap(`${host.name}: ${posix.join(dir, path)}`, err);
    }
  }
  return facts;
}

function dn(n: { commonName?: string; organizations: string[] }): string {
  return [
    n.organizations.length ? `O=${n.organizations.join("+")}` : "",
    n.commonName ? `CN=${n.commonName}` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

/** Which CA keys are on the primary: without them kubeha cannot sign (external CA). */
export async function readCaKeys(host: Host, dir: string): Promise<ClusterFacts["caKeys"]> {
  const out = await host.run(
    `cd ${shellQuote([dir])} && for f in ca.key front-proxy-ca.key etcd/ca.key; do test -s "$f" && echo "$f"; done; true`,
  );
  const present = new Set(out.split("\n").map((l) => l.trim()));
  return {
    ca: present.has("ca.key"),
    frontProxyCa: present.has("front-proxy-ca.key"),
    etcdCa: present.has("etcd/ca.key"),
  };
}

/** Reads a file that must exist and holds a secret: it is registered so no output ever shows it. */
export async function readSecret(host: Host, path: string): Promise<string> {
  const data = await host.readFile(path);
  if (!data) throw new InputError(`${host.name}: ${path} not found`);
  const text = data.toString("utf8");
  registerSecret(text);
  return text;
}

export async function readRequired(host: Host, path: string): Promise<string> {
  const data = await host.readFile(path);
  if (!data) throw new InputError(`${host.name}: ${path} not found`);
  return data.toString("utf8");
}

/** Facts that come from the manifests alone (pure). */
export function manifestFacts(
  primary: InventoryHost,
  parsed: Record<ComponentName, StaticPodManifest>,
): Pick<
  ClusterFacts,
  | "kubernetesVersion"
  | "etcdImageVersion"
  | "advertiseAddress"
  | "securePort"
  | "apiserverFlags"
  | "serviceCidr"
  | "podCidr"
  | "certificatesDir"
> & { etcdListen: { peer: string[]; client: string[]; advertisePeer: string[] } } {
  const api = parsed["kube-apiserver"];
  const etcd = parsed.etcd;
  const version = api.version?.replace(/^v/, "");
  if (!version || !/^\d+\.\d+\.\d+/.test(version)) {
    throw new InputError(`${api.file}: cannot tell the Kubernetes version from image "${api.image}"`);
  }
  const etcdServers = required(api, "etcd-servers");
  // Compared as addresses: a primary at 10.0.0.1 does not own an etcd at 10.0.0.11.
  const local = etcdServers.split(",").some((u) => {
    const host = parseURL(u.trim())?.host;
    return host !== undefined && (isLoopback(host) || sameHost(host, primary.address));
  });
  if (!local) {
    throw new InputError(
      `${api.file}: --etcd-servers=${etcdServers} points away from this node: an external etcd cluster is not supported by kubeha`,
    );
  }
  const split = (v: string | undefined) =>
    v
      ? v
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : [];
  return {
    kubernetesVersion: version.replace(/[-+].*$/, ""),
    etcdImageVersion: etcd.version ?? "unknown",
    advertiseAddress: required(api, "advertise-address"),
    securePort: Number(getFlag(api, "secure-port") ?? 6443),
    apiserverFlags: flagMap(api),
    serviceCidr: getFlag(api, "service-cluster-ip-range") ?? "10.96.0.0/12",
    podCidr: getFlag(parsed["kube-controller-manager"], "cluster-cidr"),
    certificatesDir: posix.dirname(required(api, "client-ca-file")),
    etcdListen: {
      peer: split(getFlag(etcd, "listen-peer-urls")),
      client: split(getFlag(etcd, "listen-client-urls")),
      advertisePeer: split(getFlag(etcd, "initial-advertise-peer-urls")),
    },
  };
}

/** The ClusterConfiguration document inside kube-system/kubeadm-config. */
export function clusterConfigurationFacts(text: string): {
  clusterDomain?: string;
  controlPlaneEndpoint?: string;
} {
  const doc = parseDocument(text);
  if (doc.errors.length)
    throw new KubehaError(`kube-system/kubeadm-config: ClusterConfiguration is not valid YAML`);
  const js = doc.toJS() as { networking?: { dnsDomain?: string }; controlPlaneEndpoint?: string } | null;
  return {
    clusterDomain: js?.networking?.dnsDomain,
    controlPlaneEndpoint: js?.controlPlaneEndpoint || undefined,
  };
}
