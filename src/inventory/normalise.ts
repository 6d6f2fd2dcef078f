import type { RawHost, RawInventory, RawSsh } from "./schema.js";
import { resolvePath } from "./paths.js";
import type { HostRole, Inventory, InventoryHost, ResolvedSsh } from "./types.js";

export const defaults = {
  user: "root",
  port: 22,
  agent: false,
  sudo: false,
  acceptNewHostKeys: false,
  connectTimeoutSeconds: 10,
  stallTimeoutSeconds: 30,
  knownHostsFile: "~/.ssh/known_hosts",
  loadBalancerPort: 6443,
  virtualRouterId: 51,
  workerConcurrency: 3,
  etcdLearnerTimeoutSeconds: 120,
  stateDir: "kubeha-state",
} as const;

/** Where each effective SSH setting of a host was written ("masters[0].ssh.user"); absent: a default. */
export type SshOrigins = Partial<Record<keyof ResolvedSsh, string>>;

/** A host together with where it sits in the file, so rules can point at it. */
export interface LocatedHost {
  host: InventoryHost;
  path: string;
  origins: SshOrigins;
}

export interface Normalised {
  inventory: Inventory;
  hosts: LocatedHost[];
}

export interface PathContext {
  /** Absolute path of the inventory file. */
  file: string;
  baseDir: string;
  homeDir: string;
}

/** Turns the checked YAML into the types the rest of kubeha uses: defaults merged, paths absolute. */
export function normalise(raw: RawInventory, ctx: PathContext): Normalised {
  const hosts: LocatedHost[] = [];
  const make = (r: RawHost, role: HostRole, path: string): InventoryHost => {
    const { ssh, origins } = resolveSsh(raw.ssh, r.ssh, path, ctx);
    const host: InventoryHost = { name: r.name, address: r.address, role, ssh };
    hosts.push({ host, path, origins });
    return host;
  };

  const primary = make(raw.primary, "primary", "primary");
  const masters = raw.masters.map((m, i) => make(m, "master", `masters[${i}]`));
  const lb = raw.loadBalancer;
  const mode = lb.mode ?? "nginx";
  // An LB on a master is reached as that master is, unless it says otherwise.
  const lbHost = (r: RawHost, path: string): InventoryHost => {
    const master = [raw.primary, ...raw.masters].find((m) => m.name === r.name);
    return make(r.ssh || !master?.ssh ? r : { ...r, ssh: master.ssh }, "loadBalancer", path);
  };
  const lbHosts =
    mode === "keepalived"
      ? (lb.hosts ?? []).map((h, i) => lbHost(h, `loadBalancer.hosts[${i}]`))
      : mode === "nginx"
        ? [lbHost({ name: lb.name!, address: lb.address!, ...(lb.ssh && { ssh: lb.ssh }) }, "loadBalancer")]
        : [];
  const clientAddress =
    mode === "keepalived"
      ? lb.virtualAddress!
      : mode === "nginx"
        ? (lb.clientAddress ?? lb.address!)
        : lb.address!;
  const workers = (raw.workers ?? []).map((w, i) => make(w, "worker", `workers[${i}]`));
  const options = raw.options ?? {};

  const inventory: Inventory = {
    path: ctx.file,
    primary,
    masters,
    loadBalancer: {
      mode,
      hosts: lbHosts,
      address: clientAddress,
      ...(lb.dnsName !== undefined && { dnsName: lb.dnsName }),
      port: lb.port ?? defaults.loadBalancerPort,
      ...(mode === "keepalived" && {
        vrrp: {
          virtualRouterId: lb.virtualRouterId ?? defaults.virtualRouterId,
          ...(lb.interface !== undefined && { interface: lb.interface }),
        },
      }),
    },
    workers,
    options: {
      extraSans: options.extraSans ?? [],
      workerConcurrency: options.workerConcurrency ?? defaults.workerConcurrency,
      etcdLearnerTimeoutSeconds: options.etcdLearnerTimeoutSeconds ?? defaults.etcdLearnerTimeoutSeconds,
      stateDir: resolvePath(options.stateDir ?? defaults.stateDir, ctx.baseDir, ctx.homeDir),
    },
  };
  return { inventory, hosts };
}

/** A host's own `ssh:` wins field by field over the top-level one; a jumpHost is replaced whole. */
function resolveSsh(
  shared: RawSsh | undefined,
  own: RawSsh | undefined,
  hostPath: string,
  ctx: PathContext,
): { ssh: ResolvedSsh; origins: SshOrigins } {
  const origins: SshOrigins = {};
  const pick = <K extends keyof RawSsh & keyof ResolvedSsh>(key: K): RawSsh[K] => {
    if (own?.[key] !== undefined) {
      origins[key] = `${hostPath}.ssh.${key}`;
      return own[key];
    }
    if (shared?.[key] !== undefined) origins[key] = `ssh.${key}`;
    return shared?.[key];
  };
  const path = (p: string | undefined) =>
    p === undefined ? undefined : resolvePath(p, ctx.baseDir, ctx.homeDir);

  const user = pick("user") ?? defaults.user;
  const identityFile = path(pick("identityFile"));
  const hostKeyFingerprint = pick("hostKeyFingerprint");
  const jump = pick("jumpHost");
  const ssh: ResolvedSsh = {
    user,
    port: pick("port") ?? defaults.port,
    ...(identityFile !== undefined && { identityFile }),
    agent: pick("agent") ?? defaults.agent,
    sudo: pick("sudo") ?? defaults.sudo,
    knownHostsFile: path(pick("knownHostsFile") ?? defaults.knownHostsFile)!,
    ...(hostKeyFingerprint !== undefined && { hostKeyFingerprint }),
    acceptNewHostKeys: pick("acceptNewHostKeys") ?? defaults.acceptNewHostKeys,
    connectTimeoutSeconds: pick("connectTimeoutSeconds") ?? defaults.connectTimeoutSeconds,
    stallTimeoutSeconds: pick("stallTimeoutSeconds") ?? defaults.stallTimeoutSeconds,
  };
  if (jump) {
    const jumpIdentity = path(jump.identityFile) ?? identityFile;
    ssh.jumpHost = {
      address: jump.address,
      port: jump.port ?? defaults.port,
      user: jump.user ?? user,
      ...(jumpIdentity !== undefined && { identityFile: jumpIdentity }),
      ...(jump.hostKeyFingerprint !== undefined && { hostKeyFingerprint: jump.hostKeyFingerprint }),
    };
  }
  return { ssh, origins };
}
