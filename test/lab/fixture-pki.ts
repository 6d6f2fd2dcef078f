// kubeadm's PKI, generated with the openssl CLI (never kubeha's own code, so each checks the other).
import { mkdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { must } from "./proc.js";
import { firstServiceIp, minor, type ClusterSpec } from "./fixture-spec.js";

export interface CertSpec {
  /** Path without extension: <base>.crt and <base>.key. */
  base: string;
  subject: string;
  /** Base path of the signing CA; undefined for a self-signed CA. */
  ca?: string;
  usage?: "server" | "client" | "peer";
  sans?: string[];
  /** EC P-256 key like the kubelet's own CSR, instead of kubeadm's RSA 2048. */
  ec?: boolean;
}

const CA_EXT = [
  "basicConstraints = critical,CA:TRUE",
  "keyUsage = critical,digitalSignature,keyEncipherment,keyCertSign",
];
const EKU = { server: "serverAuth", client: "clientAuth", peer: "serverAuth,clientAuth" };

/** PKCS#1 RSA keys, as kubeadm writes them. */
export async function genKey(path: string, ec = false): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  if (ec) await must(["openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", path]);
  else await must(["openssl", "genrsa", "-traditional", "-out", path, "2048"]);
}

/** Issues <base>.crt for an existing <base>.key (10 years for CAs, 1 year for leaves, like kubeadm). */
export async function issue(c: CertSpec): Promise<void> {
  const ext = c.ca
    ? [
        "basicConstraints = critical,CA:FALSE",
        "keyUsage = critical,digitalSignature,keyEncipherment",
        `extendedKeyUsage = ${EKU[c.usage ?? "client"]}`,
        "authorityKeyIdentifier = keyid",
        ...(c.sans?.length ? [`subjectAltName = ${c.sans.join(",")}`] : []),
      ]
    : CA_EXT;
  const cnf = `${c.base}.cnf`;
  await writeFile(cnf, ["[req]", "distinguished_name = dn", "[dn]", "[ext]", ...ext].join("\n") + "\n");
  const signer = c.ca ? ["-CA", `${c.ca}.crt`, "-CAkey", `${c.ca}.key`, "-days", "365"] : ["-days", "3650"];
  await must([
    "openssl",
    "req",
    "-new",
    "-x509",
    "-key",
    `${c.base}.key`,
    "-subj",
    c.subject,
    "-config",
    cnf,
    "-extensions",
    "ext",
    "-sha256",
    ...signer,
    "-out",
    `${c.base}.crt`,
  ]);
  await rm(cnf);
}

/** Keys in parallel (the slow part), then CAs, then leaves in parallel. */
export async function issueAll(certs: CertSpec[]): Promise<void> {
  await Promise.all(certs.map((c) => genKey(`${c.base}.key`, c.ec)));
  await Promise.all(certs.filter((c) => !c.ca).map(issue));
  await Promise.all(certs.filter((c) => c.ca).map(issue));
}

/** The certificates `kubeadm init` leaves on the primary, under <etcK8s>/pki. */
export function primaryCerts(spec: ClusterSpec, etcK8s: string): CertSpec[] {
  const pki = join(etcK8s, "pki");
  const { name, address } = spec.primary;
  const modern = minor(spec.version) >= 29;
  // 1.29 moved kubeadm's admin identities out of system:masters.
  const admins = modern ? "/O=kubeadm:cluster-admins" : "/O=system:masters";
  const etcdClientOrg = modern ? "" : "/O=system:masters";
  const ca = join(pki, "ca");
  const etcdCa = join(pki, "etcd/ca");
  const etcdSans = [`DNS:${name}`, "DNS:localhost", `IP:${address}`, "IP:127.0.0.1", "IP:0:0:0:0:0:0:0:1"];
  return [
    { base: ca, subject: "/CN=kubernetes" },
    { base: join(pki, "front-proxy-ca"), subject: "/CN=front-proxy-ca" },
    { base: etcdCa, subject: "/CN=etcd-ca" },
    {
      base: join(pki, "apiserver"),
      subject: "/CN=kube-apiserver",
      ca,
      usage: "server",
      sans: [
        `DNS:${name}`,
        "DNS:kubernetes",
        "DNS:kubernetes.default",
        "DNS:kubernetes.default.svc",
        `DNS:kubernetes.default.svc.${spec.domain}`,
        `IP:${firstServiceIp(spec.serviceCidr)}`,
        `IP:${address}`,
      ],
    },
    {
      base: join(pki, "apiserver-kubelet-client"),
      subject: `${admins}/CN=kube-apiserver-kubelet-client`,
      ca,
    },
    {
      base: join(pki, "apiserver-etcd-client"),
      subject: `${etcdClientOrg}/CN=kube-apiserver-etcd-client`,
      ca: etcdCa,
    },
    {
      base: join(pki, "front-proxy-client"),
      subject: "/CN=front-proxy-client",
      ca: join(pki, "front-proxy-ca"),
    },
    { base: join(pki, "etcd/server"), subject: `/CN=${name}`, ca: etcdCa, usage: "peer", sans: etcdSans },
    { base: join(pki, "etcd/peer"), subject: `/CN=${name}`, ca: etcdCa, usage: "peer", sans: etcdSans },
    {
      base: join(pki, "etcd/healthcheck-client"),
      subject: `${etcdClientOrg}/CN=kube-etcd-healthcheck-client`,
      ca: etcdCa,
    },
  ];
}

/** Client certificates embedded in the primary's kubeconfigs (issued into a scratch dir). */
export function kubeconfigCerts(spec: ClusterSpec, etcK8s: string, scratch: string): CertSpec[] {
  const ca = join(etcK8s, "pki/ca");
  const modern = minor(spec.version) >= 29;
  const certs: CertSpec[] = [
    {
      base: join(scratch, "admin"),
      subject: `/O=${modern ? "kubeadm:cluster-admins" : "system:masters"}/CN=kubernetes-admin`,
      ca,
    },
    { base: join(scratch, "controller-manager"), subject: "/CN=system:kube-controller-manager", ca },
    { base: join(scratch, "scheduler"), subject: "/CN=system:kube-scheduler", ca },
  ];
  if (modern)
    certs.push({
      base: join(scratch, "super-admin"),
      subject: "/O=system:masters/CN=kubernetes-super-admin",
      ca,
    });
  return certs;
}

/** The kubelet's rotated client certificate for a node (cert and key in one PEM, as the kubelet keeps it). */
export function kubeletCert(node: string, scratch: string, ca: string): CertSpec {
  return {
    base: join(scratch, `kubelet-${node}`),
    subject: `/O=system:nodes/CN=system:node:${node}`,
    ca,
    ec: true,
  };
}

/** Installs <scratch>/kubelet-<node>.{crt,key} as <varLibKubelet>/pki/kubelet-client-current.pem. */
export async function installKubeletCert(
  node: string,
  scratch: string,
  varLibKubelet: string,
): Promise<void> {
  const pki = join(varLibKubelet, "pki");
  await mkdir(pki, { recursive: true });
  const pem =
    (await readFile(join(scratch, `kubelet-${node}.crt`), "utf8")) +
    (await readFile(join(scratch, `kubelet-${node}.key`), "utf8"));
  const stamped = `kubelet-client-${new Date().toISOString().slice(0, 19).replace(/[T:]/g, "-")}.pem`;
  await writeFile(join(pki, stamped), pem, { mode: 0o600 });
  // Like the kubelet: "current" is a symlink to the dated file, absolute inside the host.
  await symlink(`/var/lib/kubelet/pki/${stamped}`, join(pki, "kubelet-client-current.pem"));
}

/** Service-account key pair: sa.key (PKCS#1) and sa.pub (PKIX). */
export async function genServiceAccountKeys(pki: string): Promise<void> {
  await genKey(join(pki, "sa.key"));
  await must(["openssl", "rsa", "-in", join(pki, "sa.key"), "-pubout", "-out", join(pki, "sa.pub")]);
}
