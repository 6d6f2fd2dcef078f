import type { ForeignStream } from "../render/nginx-merge.js";
import type { EtcdMember } from "../etcd/members.js";

/** What discovery found that blocks the conversion (error) or deserves attention (warning). */
export interface Finding {
  severity: "error" | "warning";
  /** Host name, or "inventory"/"cluster" for findings not tied to one host. */
  host: string;
  message: string;
  /** What the operator can do about it. */
  fix?: string;
}

export interface CertificateFact {
  /** Path relative to the certificate directory, e.g. "etcd/server.crt". */
  path: string;
  subject: string;
  issuer: string;
  dnsNames: string[];
  ipAddresses: string[];
  notAfter: string;
  isCA: boolean;
}

/** The primary control-plane node and the cluster as read from it. */
export interface ClusterFacts {
  primary: { name: string; address: string; hostname: string };
  kubernetesVersion: string;
  /** From the etcd manifest's image tag, e.g. "3.5.15-0". */
  etcdImageVersion: string;
  /** As the running etcd reports it. */
  etcdServerVersion?: string;
  advertiseAddress: string;
  securePort: number;
  apiserverFlags: Record<string, string>;
  /** Comma-separated for dual-stack, exactly as the apiserver flag says. */
  serviceCidr: string;
  podCidr?: string;
  clusterDomain: string;
  certificatesDir: string;
  certificates: CertificateFact[];
  caKeys: { ca: boolean; frontProxyCa: boolean; etcdCa: boolean };
  /** The ClusterConfiguration document of kube-system/kubeadm-config, as YAML text. */
  clusterConfiguration: string;
  controlPlaneEndpoint?: string;
  etcd: {
    members: EtcdMember[];
    healthy: boolean;
    /** The peer URL other members will use to reach the primary's member. */
    primaryPeerUrls: string[];
    listenPeerUrls: string[];
    listenClientUrls: string[];
  };
  /** Nodes labelled as control-plane in the API. */
  controlPlaneNodes: string[];
  /** Every Node in the API, with the addresses its kubelet reports. */
  nodes: NodeFact[];
  /** The images of the primary's static pods: what every new master must have or pull. */
  controlPlaneImages?: string[];
  /** cgroupDriver in the primary's /var/lib/kubelet/config.yaml, which kubeha copies to new masters. */
  kubeletCgroupDriver?: "systemd" | "cgroupfs";
  /** Static pod manifests on the primary, by component, as text. */
  manifests: Record<"etcd" | "kube-apiserver" | "kube-controller-manager" | "kube-scheduler", string>;
}

/** A Node as the API knows it: what ties its name to a machine. */
export interface NodeFact {
  name: string;
  internalIPs: string[];
  /** The Node's address of type Hostname: the name the kubelet took from its host (or was told). */
  hostname?: string;
}

/** Who the machine behind an inventory entry is, read in discovery's round trip to it. */
export interface HostIdentity {
  /** The inventory entry. */
  name: string;
  role: string;
  /** The address kubeha reached it at (the entry's). */
  address: string;
  /** SHA256 fingerprint of the SSH host key the connection verified. */
  hostKey?: string;
  /** /etc/machine-id, when the host has one. */
  machineId?: string;
  hostname?: string;
  /** The host's own IP addresses (`ip -o addr show`). */
  addresses: string[];
}

/** A new master's container runtime, as `crictl` sees it. */
export interface RuntimeFacts {
  /** `crictl info` succeeded and the runtime says it is ready. */
  answers: boolean;
  error?: string;
  cgroupDriver?: "systemd" | "cgroupfs";
  /** Images of the primary's static pods that `crictl inspecti` does not find. */
  missingImages: string[];
}

/** A host that is to become a master, or the LB, or a worker. */
export interface HostFacts {
  name: string;
  role: string;
  os?: string;
  kubeletVersion?: string;
  containerRuntime?: string;
  /** Ports from the checked list that something already listens on. */
  busyPorts: number[];
  ipForward?: boolean;
  brNetfilter?: boolean;
  /** Host clock minus the primary's, in milliseconds (round trip accounted for). */
  clockSkewMs?: number;
  /** How far off clockSkewMs may be: half of each of the two probes' round trips. */
  clockSkewErrorMs?: number;
  /** New masters only. */
  runtime?: RuntimeFacts;
  /** Files in /etc/kubernetes/manifests. */
  manifests: string[];
  /** keepalived mode's LB hosts only. */
  keepalived?: {
    version?: string;
    /** Where curl is, for the health check. */
    curl?: string;
    /** The interface holding the host's inventory address. */
    interface?: string;
  };
  nginx?: {
    version?: string;
    stream: "builtin" | "loaded" | "available" | "missing";
    /** Top-level stream {} blocks that are not kubeha's, from `nginx -T`: kubeha's servers go inside. */
    otherStreamBlocks?: ForeignStream[];
    /** Files in stream.d that nginx does not read now, but kubeha's include of stream.d/*.conf would. */
    dormantStreamFiles?: string[];
    /** What `nginx -T` said when the current configuration fails its test. */
    testError?: string;
  };
}

export interface DiscoveryResult {
  cluster: ClusterFacts;
  hosts: HostFacts[];
  /** Every entry that could be reached, workers included. */
  identities: HostIdentity[];
  findings: Finding[];
}
