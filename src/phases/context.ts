import type { Inventory, InventoryHost } from "../inventory/types.js";
import type { DiscoveryResult } from "../discover/types.js";
import type { Host } from "../ssh/types.js";
import type { Reporter } from "../ui/reporter.js";
import { ClusterAccess } from "../cluster/access.js";
import type { KubeClient } from "../kube/client.js";
import { KeyPool } from "../pki/key-pool.js";
import { readPrimaryMaterial, type PrimaryMaterial } from "./material.js";

/**
 * What a step can reach while it runs: the hosts (one SSH connection each), the cluster's APIs
 * through forwarded ports (opened once and reused), and the primary's shared material.
 */
export class RunContext {
  private materialPromise?: Promise<PrimaryMaterial>;
  private readonly etcdEndpoints = new Map<string, Promise<string>>();
  private readonly kubeClients = new Map<string, Promise<KubeClient>>();
  private readonly cleanups: (() => Promise<void>)[] = [];
  /** When this run began: names the run's backup directory on the hosts. */
  readonly started = new Date();
  /** New keys, generated ahead while the backup runs (see Step.prepare). */
  readonly keys = new KeyPool();

  private constructor(
    readonly inventory: Inventory,
    readonly discovery: DiscoveryResult,
    readonly hosts: Map<string, Host>,
    readonly reporter: Reporter,
    readonly access: ClusterAccess,
  ) {}

  static async open(
    inventory: Inventory,
    discovery: DiscoveryResult,
    hosts: Map<string, Host>,
    reporter: Reporter,
  ): Promise<RunContext> {
    const primary = hosts.get(inventory.primary.name);
    if (!primary) throw new Error(`internal: no connection to ${inventory.primary.name}`);
    const access = await ClusterAccess.open(primary, discovery.cluster.certificatesDir);
    return new RunContext(inventory, discovery, hosts, reporter, access);
  }

  get cluster() {
    return this.discovery.cluster;
  }

  get stateDir(): string {
    return this.inventory.options.stateDir;
  }

  /** The masters in order: the primary first, then the new ones. */
  get masters(): InventoryHost[] {
    return [this.inventory.primary, ...this.inventory.masters];
  }

  host(name: string): Host {
    const h = this.hosts.get(name);
    if (!h) throw new Error(`internal: no connection to host ${name}`);
    return h;
  }

  material(): Promise<PrimaryMaterial> {
    this.materialPromise ??= readPrimaryMaterial(
      this.host(this.inventory.primary.name),
      this.cluster.certificatesDir,
    );
    return this.materialPromise;
  }

  /** A local URL reaching `name`'s etcd member (one forward per host, reused). */
  etcdEndpoint(name: string): Promise<string> {
    let p = this.etcdEndpoints.get(name);
    if (!p) {
      p = this.access.etcdEndpoint(this.host(name));
      this.etcdEndpoints.set(name, p);
    }
    return p;
  }

  /** A client for the apiserver on master `name`, checked against that master's own address. */
  kube(name: string): Promise<KubeClient> {
    let p = this.kubeClients.get(name);
    if (!p) {
      const h = this.masters.find((m) => m.name === name);
      if (!h) throw new Error(`internal: ${name} is not a master`);
      p = this.access.kube(this.host(name), this.cluster.securePort, h.address);
      this.kubeClients.set(name, p);
    }
    return p;
  }

  /** Runs when the context closes: a connection opened by a step's planning (a retired master's). */
  onClose(fn: () => Promise<void>): void {
    this.cleanups.push(fn);
  }

  async close(): Promise<void> {
    await this.access.close();
    await Promise.allSettled(this.cleanups.map((f) => f()));
  }
}
