/** SSH settings; every field optional at each level, merged defaults <- host override. */
export interface SshSettings {
  user?: string;
  port?: number;
  /** Path to a private key (OpenSSH or PEM). */
  identityFile?: string;
  /** Use the agent at $SSH_AUTH_SOCK instead of (or as well as) identityFile. */
  agent?: boolean;
  /** Run privileged commands through `sudo -n` (for a non-root user). */
  sudo?: boolean;
  /** OpenSSH known_hosts file used to verify host keys (hashed entries supported). */
  knownHostsFile?: string;
  /** Pinned host key fingerprint, "SHA256:<base64>" as `ssh-keygen -lf` prints it. */
  hostKeyFingerprint?: string;
  /** Accept and record a host key not yet in known_hosts (never a changed one). */
  acceptNewHostKeys?: boolean;
  connectTimeoutSeconds?: number;
  /**
   * An open connection whose host has not answered for this long is given up: the command or file
   * transfer on it fails, naming the host. Work the host is busy with does not count: it still answers.
   */
  stallTimeoutSeconds?: number;
  /** Jump host ("bastion"): reached first, then tunnelled through. */
  jumpHost?: JumpHost;
}

export interface JumpHost {
  address: string;
  port?: number;
  user?: string;
  identityFile?: string;
  hostKeyFingerprint?: string;
}

/** SSH settings after defaults are applied; what the transport uses. */
export interface ResolvedSsh {
  user: string;
  port: number;
  identityFile?: string;
  agent: boolean;
  sudo: boolean;
  knownHostsFile?: string;
  hostKeyFingerprint?: string;
  acceptNewHostKeys: boolean;
  connectTimeoutSeconds: number;
  stallTimeoutSeconds: number;
  jumpHost?: Required<Pick<JumpHost, "address" | "port" | "user">> & JumpHost;
}

export type HostRole = "primary" | "master" | "loadBalancer" | "worker";

/** One machine kubeha talks to. `name` is the Kubernetes node name (and hostname). */
export interface InventoryHost {
  name: string;
  /** Address used for SSH and, for masters, as the advertise address. */
  address: string;
  role: HostRole;
  ssh: ResolvedSsh;
}

/** How the entry point to the API is built; see LOAD_BALANCER_MODES in ./load-balancer.ts. */
export type LoadBalancerMode = "nginx" | "keepalived" | "external";

export interface LoadBalancer {
  mode: LoadBalancerMode;
  /** The hosts kubeha configures: one (nginx), two or three (keepalived), none (external). */
  hosts: InventoryHost[];
  /** The address clients use: the nginx host's (or clientAddress), the virtual address, the operator's LB. */
  address: string;
  dnsName?: string;
  port: number;
  /** keepalived mode only. */
  vrrp?: {
    virtualRouterId: number;
    /** The interface carrying the virtual address; default: the one holding each host's address. */
    interface?: string;
  };
}

export interface Options {
  /** Extra SANs for every apiserver certificate. */
  extraSans: string[];
  /** How many workers get their kubelet.conf changed at once. */
  workerConcurrency: number;
  /** How long a new etcd learner may take to start and catch up before it is removed again. */
  etcdLearnerTimeoutSeconds: number;
  /** Where backups, journal and logs go on the operator's machine. */
  stateDir: string;
}

/** A validated inventory: everything the rest of kubeha reads from the operator. */
export interface Inventory {
  /** Absolute path of the file it was read from. */
  path: string;
  primary: InventoryHost;
  /** The new control-plane hosts (an even number, so the total is odd). */
  masters: InventoryHost[];
  loadBalancer: LoadBalancer;
  workers: InventoryHost[];
  options: Options;
}

/**
 * The hosts kubeha connects to before workers, each once: primary, masters, then the LB hosts that are
 * not already a master (an LB on a master shares that master's name and connection).
 */
export function controlHosts(inv: Inventory): InventoryHost[] {
  const masters = [inv.primary, ...inv.masters];
  const names = new Set(masters.map((h) => h.name));
  return [...masters, ...inv.loadBalancer.hosts.filter((h) => !names.has(h.name))];
}

/** The master an LB host (by name) runs on, if it is one. */
export function masterOf(inv: Inventory, name: string): InventoryHost | undefined {
  return [inv.primary, ...inv.masters].find((m) => m.name === name);
}
