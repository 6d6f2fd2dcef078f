/**
 * One control-plane node's PKI as data: every leaf certificate and kubeconfig it needs, from the
 * cluster's CAs and facts. No I/O: inputs are PEM text, the output is a map of files that the
 * caller writes (or shows, for `plan`).
 */
import { InputError, wrap } from "../errors.js";
import {
  assertCaValid,
  generateKey,
  loadCa,
  signCertificate,
  type CaMaterial,
  type GeneratedKey,
  type KeyAlgorithm,
  type LoadedCa,
} from "./issue.js";
import { publicKeyMatches } from "./inspect.js";
import { renderKubeconfig, serverUrl, checkServerUrl } from "./kubeconfig.js";
import { apiserverSans, etcdSans, type Sans } from "./sans.js";
import {
  CA_FILES,
  CERT_SPECS,
  fillName,
  kubeconfigSpecsFor,
  parseMinorVersion,
  resolveByVersion,
  SHARED_FILES,
  type CaName,
  type CertSpec,
  type KubeconfigSpec,
  type ServerRole,
} from "./specs.js";

export interface RenderedFile {
  content: string;
  /** 0o600 for private keys and kubeconfigs (they hold keys), 0o644 for certificates and public keys. */
  mode: number;
}

/** Relative path under /etc/kubernetes ("pki/apiserver.crt", "admin.conf") -> file. */
export type FileSet = Map<string, RenderedFile>;

export const PKI_DIR = "pki";
const SUPER_ADMIN_CONF = "super-admin.conf";
const KEY_MODE = 0o600;
const CERT_MODE = 0o644;

export interface NodePkiInput {
  /** The node the files are for. */
  node: { name: string; address: string };
  /** What discovery read from the primary (a subset of ClusterFacts). */
  cluster: {
    kubernetesVersion: string;
    /** --service-cluster-ip-range, comma-separated for dual-stack. */
    serviceCidr: string;
    clusterDomain?: string;
    /** The apiserver's --secure-port on every master; default 6443. */
    securePort?: number;
    /** etcd serverCertSANs/peerCertSANs of the kubeadm ClusterConfiguration. */
    etcdExtraSans?: readonly string[];
  };
  loadBalancer: { address: string; dnsName?: string; port: number };
  /** The operator's extra apiserver SANs. */
  extraSans?: readonly string[];
  /** SANs of the primary's current apiserver certificate, kept (minus other nodes' names). */
  inheritedSans?: Sans;
  /** The other control-plane nodes, whose names must not leak into this node's certificate. */
  otherNodes?: readonly { name: string; address: string }[];
  cas: Readonly<Record<CaName, CaMaterial>>;
  /** Where kubeconfigs point; defaults: endpoint = the LB (by DNS name if any), local = this node. */
  servers?: Partial<Record<ServerRole, string>>;
  /** Key algorithm of the new keys; default: the signing CA's. */
  keyAlgorithm?: KeyAlgorithm;
  /** Where new keys come from (e.g. a KeyPool filled ahead of time); default: generated here. */
  newKey?: (alg: KeyAlgorithm) => Promise<GeneratedKey>;
  /** Subject organisations to use instead of the version's (e.g. what the primary's certificates carry), by cert name or kubeconfig file. */
  organizationOverrides?: Readonly<Record<string, readonly string[]>>;
  /** Only these certificate names / kubeconfig files (e.g. ["apiserver"] to re-issue the primary's). */
  only?: readonly string[];
  /**
   * A node that joins (not the one `kubeadm init` made): no super-admin.conf. kubeadm writes that
   * break-glass credential (system:masters, beyond RBAC) on the init node only
   * (phases/kubeconfig CreateJoinControlPlaneKubeConfigFiles: admin, controller-manager, scheduler).
   */
  joins?: boolean;
  validityDays?: number;
  now?: Date;
}

/** One thing to issue, fully resolved: what render.ts signs. */
export interface IssuePlanItem {
  /** Cert spec name or kubeconfig file name. */
  id: string;
  ca: CaName;
  commonName: string;
  organizations: readonly string[];
  extKeyUsages: CertSpec["extKeyUsages"];
  sans: Sans;
  /** Where the output goes: a cert/key pair under pki/, or a kubeconfig. */
  output: { kind: "pair"; baseName: string } | { kind: "kubeconfig"; file: string; server: string };
}

/** Resolves the specs for one node: names, organisations, SANs, servers. Pure; what `plan` shows. */
export function planNodePki(input: NodePkiInput): IssuePlanItem[] {
  const version = parseMinorVersion(input.cluster.kubernetesVersion, "cluster.kubernetesVersion");
  const nodeName = input.node.name;
  const port = input.cluster.securePort ?? 6443;
  const servers: Record<ServerRole, string> = {
    endpoint: checkServerUrl(
      input.servers?.endpoint ??
        serverUrl(input.loadBalancer.dnsName ?? input.loadBalancer.address, input.loadBalancer.port),
      "servers.endpoint",
    ),
    local: checkServerUrl(input.servers?.local ?? serverUrl(input.node.address, port), "servers.local"),
  };
  const sanSets: Record<CertSpec["sans"], () => Sans> = {
    none: () => ({ dns: [], ips: [] }),
    apiserver: () =>
      apiserverSans({
        nodeName,
        advertiseAddress: input.node.address,
        serviceCidr: input.cluster.serviceCidr,
        clusterDomain: input.cluster.clusterDomain,
        loadBalancer: input.loadBalancer,
        extraSans: input.extraSans,
        inheritedSans: input.inheritedSans,
        otherNodes: input.otherNodes,
      }),
    etcd: () => etcdSans({ nodeName, address: input.node.address, extraSans: input.cluster.etcdExtraSans }),
  };
  const orgs = (id: string, byVersion: CertSpec["organizations"]): readonly string[] =>
    input.organizationOverrides?.[id] ?? resolveByVersion(byVersion, version);
  const wanted = (id: string): boolean => input.only === undefined || input.only.includes(id);

  const certs = CERT_SPECS.filter((s) => wanted(s.name)).map((s): IssuePlanItem => ({
    id: s.name,
    ca: s.ca,
    commonName: fillName(s.commonName, nodeName),
    organizations: orgs(s.name, s.organizations),
    extKeyUsages: s.extKeyUsages,
    sans: sanSets[s.sans](),
    output: { kind: "pair", baseName: s.baseName },
  }));
  const kubeconfigs = kubeconfigSpecsFor(version)
    .filter((k: KubeconfigSpec) => !(input.joins && k.file === SUPER_ADMIN_CONF))
    .filter((k: KubeconfigSpec) => wanted(k.file))
    .map((k): IssuePlanItem => ({
      id: k.file,
      ca: "ca",
      commonName: fillName(k.user, nodeName),
      organizations: orgs(k.file, k.organizations),
      extKeyUsages: ["clientAuth"],
      sans: { dns: [], ips: [] },
      output: { kind: "kubeconfig", file: k.file, server: servers[k.server] },
    }));
  if (input.only) {
    const known = new Set([...certs, ...kubeconfigs].map((i) => i.id));
    const unknown = input.only.filter((o) => !known.has(o));
    if (unknown.length > 0)
      throw new InputError(
        `only: unknown certificate or kubeconfig ${unknown.map((u) => JSON.stringify(u)).join(", ")}`,
      );
  }
  return [...certs, ...kubeconfigs];
}

// Parsed once per set of CAs (read once per run, never changed after: every node's certificates are
// rendered and checked with it).
const loaded = new WeakMap<object, Record<CaName, LoadedCa>>();

/** Loads the three CAs once (parse, check key), and checks their expiry at every call. */
export function loadCas(
  cas: Readonly<Record<CaName, CaMaterial>>,
  now = new Date(),
): Record<CaName, LoadedCa> {
  let out = loaded.get(cas);
  if (!out) {
    out = {} as Record<CaName, LoadedCa>;
    for (const name of Object.keys(CA_FILES) as CaName[]) {
      const material = cas[name];
      if (!material) throw new InputError(`cas: CA ${name} is missing`);
      out[name] = loadCa(name, material, now);
    }
    loaded.set(cas, out);
  }
  for (const ca of Object.values(out)) assertCaValid(ca.name, ca.notAfter, now);
  return out;
}

/** The algorithm of the key `item` gets: the input's choice, else its signing CA's. */
function keyAlgorithmFor(
  input: NodePkiInput,
  cas: Record<CaName, LoadedCa>,
  item: IssuePlanItem,
): KeyAlgorithm {
  return input.keyAlgorithm ?? cas[item.ca].keyAlgorithm;
}

/** The algorithm of every key `renderNodePki(input)` will ask for, in order (pure). */
export function nodeKeyAlgorithms(input: NodePkiInput): KeyAlgorithm[] {
  const cas = loadCas(input.cas, input.now);
  return planNodePki(input).map((item) => keyAlgorithmFor(input, cas, item));
}

/**
 * Renders the node's full set: leaf certificates and keys under pki/, and the kubeconfigs.
 * All keys are generated at once (in parallel on the libuv threadpool), then each is signed.
 */
export async function renderNodePki(input: NodePkiInput): Promise<FileSet> {
  const plan = planNodePki(input);
  const cas = loadCas(input.cas, input.now);
  const keys = await Promise.all(
    plan.map((item) =>
      (input.newKey ?? generateKey)(keyAlgorithmFor(input, cas, item)).catch((err: unknown) => {
        throw wrap(`node ${input.node.name}: generate key for ${item.id}`, err);
      }),
    ),
  );
  const files: FileSet = new Map();
  plan.forEach((item, i) => {
    const key = keys[i]!;
    const ca = cas[item.ca];
    let certPem: string;
    try {
      certPem = signCertificate(ca, key.publicKey, {
        commonName: item.commonName,
        organizations: item.organizations,
        extKeyUsages: item.extKeyUsages,
        dns: item.sans.dns,
        ips: item.sans.ips,
        validityDays: input.validityDays,
        now: input.now,
      });
    } catch (err) {
      throw wrap(`node ${input.node.name}: sign ${item.id} with CA ${item.ca}`, err);
    }
    if (item.output.kind === "pair") {
      files.set(`${PKI_DIR}/${item.output.baseName}.crt`, { content: certPem, mode: CERT_MODE });
      files.set(`${PKI_DIR}/${item.output.baseName}.key`, { content: key.pem, mode: KEY_MODE });
    } else {
      const content = renderKubeconfig({
        server: item.output.server,
        caPem: ca.certPem,
        user: item.commonName,
        clientCertPem: certPem,
        clientKeyPem: key.pem,
      });
      files.set(item.output.file, { content, mode: KEY_MODE });
    }
  });
  return files;
}

export interface SharedMaterial {
  cas: Readonly<Record<CaName, CaMaterial>>;
  /** The service-account signing key pair (sa.key, sa.pub). */
  serviceAccount: { keyPem: string; pubPem: string };
}

/**
 * The files every control-plane node shares, copied verbatim from the primary (never generated):
 * the three CAs with their keys, and sa.key/sa.pub. Checked first: each CA is a CA and matches its
 * key, and sa.key matches sa.pub.
 */
export function sharedPki(material: SharedMaterial, now?: Date): FileSet {
  loadCas(material.cas, now);
  let saOk: boolean;
  try {
    saOk = publicKeyMatches(material.serviceAccount.keyPem, material.serviceAccount.pubPem);
  } catch (err) {
    throw new InputError("sa.key/sa.pub: not a PEM key pair", { cause: err });
  }
  if (!saOk) throw new InputError("sa.key/sa.pub: the public key is not sa.key's");
  const content = new Map<string, string>([
    ["sa.key", material.serviceAccount.keyPem],
    ["sa.pub", material.serviceAccount.pubPem],
  ]);
  for (const name of Object.keys(CA_FILES) as CaName[]) {
    content.set(CA_FILES[name].cert, material.cas[name].certPem);
    content.set(CA_FILES[name].key, material.cas[name].keyPem);
  }
  const files: FileSet = new Map();
  for (const f of SHARED_FILES) {
    files.set(`${PKI_DIR}/${f.path}`, {
      content: content.get(f.path)!,
      mode: f.secret ? KEY_MODE : CERT_MODE,
    });
  }
  return files;
}
