/**
 * The certificates and kubeconfigs of a kubeadm control-plane node, as data (the layout of
 * kubeadm's `phases/certs/certlist.go` and `phases/kubeconfig`). Adding a certificate is adding a
 * value here; what depends on the node (its name, its SANs) is named by a rule, filled in by
 * `render.ts`.
 */

/** The three CAs of a kubeadm cluster, by kubeadm's names. */
export type CaName = "ca" | "front-proxy-ca" | "etcd-ca";

export type ExtKeyUsage = "serverAuth" | "clientAuth";

/** Which SAN set a certificate carries: `sans.ts` computes each. */
export type SanRule = "none" | "apiserver" | "etcd";

/**
 * A value that changed at a Kubernetes minor release: `before` below `since`, `after` from it on.
 * E.g. kubeadm 1.29 moved admin.conf's user from system:masters to kubeadm:cluster-admins.
 */
export interface Changed<T> {
  before: T;
  since: `${number}.${number}`;
  after: T;
}
export type ByVersion<T> = T | Changed<T>;

/** `{node}` in a common name is replaced by the node's name. */
export type NameTemplate = string;

export interface CertSpec {
  /** kubeadm's name, as in `kubeadm certs renew <name>` (the etcd ones are prefixed "etcd-" there). */
  name: string;
  /** Path of the pair under the PKI dir without extension: "etcd/server" -> pki/etcd/server.crt|key. */
  baseName: string;
  ca: CaName;
  commonName: NameTemplate;
  organizations: ByVersion<readonly string[]>;
  extKeyUsages: readonly ExtKeyUsage[];
  sans: SanRule;
}

/** Where a kubeconfig's `server:` points: the load balancer (the control-plane endpoint) or the node's own apiserver. */
export type ServerRole = "endpoint" | "local";

export interface KubeconfigSpec {
  /** File name under /etc/kubernetes. */
  file: string;
  /** Client certificate common name, also the kubeconfig user name. */
  user: NameTemplate;
  organizations: ByVersion<readonly string[]>;
  server: ServerRole;
  /** First Kubernetes minor release that has this file. */
  since?: `${number}.${number}`;
}

const SYSTEM_MASTERS = "system:masters";
/** kubeadm 1.29+ binds this group to cluster-admin, so its credential can be revoked (KEP-4214). */
const CLUSTER_ADMINS = "kubeadm:cluster-admins";

/**
 * The leaf certificates of one control-plane node (stacked etcd), in kubeadm's order.
 *
 * Organisations by version, from kubeadm's history:
 * - apiserver-kubelet-client: system:masters before 1.29; kubeadm:cluster-admins from 1.29
 *   (kubernetes/kubernetes#121837). kubeadm 1.35.5 / 1.36.1+ drop the O entirely and bind the CN
 *   with a `kubeadm:apiserver-kubelet-client` ClusterRoleBinding (kubernetes/kubernetes#138957);
 *   kubeadm:cluster-admins keeps working there because that group stays bound to cluster-admin. To
 *   match such a cluster exactly, pass the primary's organisations as an override in `render.ts`.
 * - apiserver-etcd-client and etcd/healthcheck-client: system:masters before 1.29, none from 1.29
 *   (kubernetes/kubernetes#120521, #119859): etcd does not read the O field.
 */
export const CERT_SPECS: readonly CertSpec[] = [
  {
    name: "apiserver",
    baseName: "apiserver",
    ca: "ca",
    commonName: "kube-apiserver",
    organizations: [],
    extKeyUsages: ["serverAuth"],
    sans: "apiserver",
  },
  {
    name: "apiserver-kubelet-client",
    baseName: "apiserver-kubelet-client",
    ca: "ca",
    commonName: "kube-apiserver-kubelet-client",
    organizations: { before: [SYSTEM_MASTERS], since: "1.29", after: [CLUSTER_ADMINS] },
    extKeyUsages: ["clientAuth"],
    sans: "none",
  },
  {
    name: "front-proxy-client",
    baseName: "front-proxy-client",
    ca: "front-proxy-ca",
    commonName: "front-proxy-client",
    organizations: [],
    extKeyUsages: ["clientAuth"],
    sans: "none",
  },
  {
    // etcd 3.2+ requires client auth on the server certificate as well (kubeadm's certlist.go).
    name: "etcd-server",
    baseName: "etcd/server",
    ca: "etcd-ca",
    commonName: "{node}",
    organizations: [],
    extKeyUsages: ["serverAuth", "clientAuth"],
    sans: "etcd",
  },
  {
    name: "etcd-peer",
    baseName: "etcd/peer",
    ca: "etcd-ca",
    commonName: "{node}",
    organizations: [],
    extKeyUsages: ["serverAuth", "clientAuth"],
    sans: "etcd",
  },
  {
    name: "etcd-healthcheck-client",
    baseName: "etcd/healthcheck-client",
    ca: "etcd-ca",
    commonName: "kube-etcd-healthcheck-client",
    organizations: { before: [SYSTEM_MASTERS], since: "1.29", after: [] },
    extKeyUsages: ["clientAuth"],
    sans: "none",
  },
  {
    name: "apiserver-etcd-client",
    baseName: "apiserver-etcd-client",
    ca: "etcd-ca",
    commonName: "kube-apiserver-etcd-client",
    organizations: { before: [SYSTEM_MASTERS], since: "1.29", after: [] },
    extKeyUsages: ["clientAuth"],
    sans: "none",
  },
];

/**
 * The kubeconfigs of a control-plane node, all signed by "ca" with client auth.
 * controller-manager and scheduler talk to their own node's apiserver (kubeadm's LocalAPIEndpoint);
 * admin, super-admin and the kubelet go through the control-plane endpoint (the load balancer).
 */
export const KUBECONFIG_SPECS: readonly KubeconfigSpec[] = [
  {
    file: "admin.conf",
    user: "kubernetes-admin",
    organizations: { before: [SYSTEM_MASTERS], since: "1.29", after: [CLUSTER_ADMINS] },
    server: "endpoint",
  },
  {
    file: "super-admin.conf",
    user: "kubernetes-super-admin",
    organizations: [SYSTEM_MASTERS],
    server: "endpoint",
    since: "1.29",
  },
  {
    file: "controller-manager.conf",
    user: "system:kube-controller-manager",
    organizations: [],
    server: "local",
  },
  {
    file: "scheduler.conf",
    user: "system:kube-scheduler",
    organizations: [],
    server: "local",
  },
  {
    file: "kubelet.conf",
    user: "system:node:{node}",
    organizations: ["system:nodes"],
    server: "endpoint",
  },
];

/** What every control-plane node shares, copied from the primary and never generated. */
export interface SharedFileSpec {
  /** Path under the PKI dir. */
  path: string;
  secret: boolean;
}

export const SHARED_FILES: readonly SharedFileSpec[] = [
  { path: "ca.crt", secret: false },
  { path: "ca.key", secret: true },
  { path: "front-proxy-ca.crt", secret: false },
  { path: "front-proxy-ca.key", secret: true },
  { path: "etcd/ca.crt", secret: false },
  { path: "etcd/ca.key", secret: true },
  { path: "sa.key", secret: true },
  { path: "sa.pub", secret: false },
];

/** The CA certificate and key files of each CA, under the PKI dir. */
export const CA_FILES: Readonly<Record<CaName, { cert: string; key: string }>> = {
  ca: { cert: "ca.crt", key: "ca.key" },
  "front-proxy-ca": { cert: "front-proxy-ca.crt", key: "front-proxy-ca.key" },
  "etcd-ca": { cert: "etcd/ca.crt", key: "etcd/ca.key" },
};

// ---------------------------------------------------------------------------------------------

export interface MinorVersion {
  major: number;
  minor: number;
}

/** "v1.29.3", "1.29", "1.30.0-rc.1" -> {1, 29}. */
export function parseMinorVersion(version: string, field = "kubernetesVersion"): MinorVersion {
  const m = /^v?(\d+)\.(\d+)(?:\.\d+)?(?:[-+].*)?$/.exec(version.trim());
  if (!m) throw new Error(`${field}: ${JSON.stringify(version)} is not a Kubernetes version such as v1.29.3`);
  return { major: Number(m[1]), minor: Number(m[2]) };
}

function atLeast(v: MinorVersion, since: string): boolean {
  const s = parseMinorVersion(since, "since");
  return v.major !== s.major ? v.major > s.major : v.minor >= s.minor;
}

function isChanged<T>(v: ByVersion<T>): v is Changed<T> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && "since" in v;
}

export function resolveByVersion<T>(value: ByVersion<T>, version: MinorVersion): T {
  if (!isChanged(value)) return value;
  return atLeast(version, value.since) ? value.after : value.before;
}

/** The kubeconfig specs a cluster of this version has (super-admin.conf from 1.29). */
export function kubeconfigSpecsFor(version: MinorVersion): KubeconfigSpec[] {
  return KUBECONFIG_SPECS.filter((s) => s.since === undefined || atLeast(version, s.since));
}

export function fillName(template: NameTemplate, nodeName: string): string {
  return template.replaceAll("{node}", nodeName);
}
