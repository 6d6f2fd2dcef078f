// What the starting cluster is built with; tests compare kubeha's discovery against it.
import ipaddr from "ipaddr.js";

export interface ClusterSpec {
  /** Kubernetes version without the leading "v", e.g. "1.31.2". */
  version: string;
  serviceCidr: string;
  podCidr: string;
  domain: string;
  primary: { name: string; address: string };
  workers: { name: string; address: string }[];
  /** Old layout: etcd advertises https://localhost:2380 and listens on 127.0.0.1 only. */
  etcdPeerLocalhost: boolean;
  /** kubeadm's external-CA mode: pki/ca.key is absent. */
  externalCa: boolean;
}

export function minor(version: string): number {
  const m = /^v?1\.(\d+)\./.exec(version);
  if (!m?.[1]) throw new Error(`unsupported Kubernetes version ${version}`);
  return Number(m[1]);
}

/** The etcd image kubeadm pins for a Kubernetes minor. */
export function etcdImage(version: string): string {
  const n = minor(version);
  if (n <= 24) return "registry.k8s.io/etcd:3.5.3-0";
  if (n <= 28) return "registry.k8s.io/etcd:3.5.9-0";
  if (n <= 36) return "registry.k8s.io/etcd:3.5.15-0";
  return "registry.k8s.io/etcd:3.7.0-0"; // kubeadm v1.37's DefaultEtcdVersion: the real flavour
}

/** The images of the four static pods kubeadm writes for a version (what a new master must have). */
export function controlPlaneImages(version: string): string[] {
  const v = version.replace(/^v/, "");
  return [
    etcdImage(v),
    ...["kube-apiserver", "kube-controller-manager", "kube-scheduler"].map(
      (c) => `registry.k8s.io/${c}:v${v}`,
    ),
  ];
}

/** The kubernetes Service's ClusterIP: the service CIDR's first address. */
export function firstServiceIp(cidr: string): string {
  const [net] = ipaddr.parseCIDR(cidr);
  const bytes = net.toByteArray();
  for (let i = bytes.length - 1; i >= 0; i--) {
    bytes[i] = ((bytes[i] ?? 0) + 1) & 0xff;
    if (bytes[i] !== 0) break;
  }
  return ipaddr.fromByteArray(bytes).toString();
}
