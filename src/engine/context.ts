import { AsyncLocalStorage } from "node:async_hooks";
import type { Inventory, InventoryHost } from "../inventory/types.js";
import type { DiscoveryResult } from "../discover/types.js";
import type { Host } from "../ssh/types.js";
import type { Reporter } from "../ui/reporter.js";
import { ClusterAccess } from "../discover/access.js";
import type { KubeClient } from "../kube/client.js";
import { KeyPool, StandInKeys } from "../pki/key-pool.js";
import { readPrimaryMaterial, type PrimaryMaterial } from "./material.js";
import { objectPath, type KubeObject } from "../kube/client.js";
import { withEndpoint, type EtcdClientOptions, type EtcdEndpointClient } from "../etcd/client.js";
import { listMembers, type EtcdMember } from "../etcd/members.js";
import { endpointStatus, type EndpointStatus } from "../etcd/health.js";
import type { StepContext } from "./step-context.js";
import { etcdThrough, type Etcd } from "../etcd/ops.js";
import { EffectView, type World } from "../effects/view.js";
import { GuardedHost, guardedEtcd, guardedKube } from "../effects/guard.js";
import type { EffectSink } from "../effects/types.js";
import { CLOSE_POLL, pollUntil, type PollOptions } from "../poll.js";

/** How a run reaches the cluster's APIs: ports forwarded over SSH (ClusterAccess), or a test's stand-ins. */
export type ClusterConnections = Pick<ClusterAccess, "etcdTls" | "etcdEndpoint" | "kube" | "close">;

/** Everything a context is made of, already open. */
export interface RunContextParts {
  inventory: Inventory;
  discovery: DiscoveryResult;
  hosts: Map<string, Host>;
  reporter: Reporter;
  access: ClusterConnections;
  /** etcd membership; by default through the primary's member over `access`. */
  etcd?: Etcd;
}

/**
 * The run's engine context: the hosts (one SSH connection each), the cluster's APIs through forwarded
 * ports (opened once and reused), and the primary's shared material. Steps see it as a StepContext,
 * without the raw connections; the engine (plan, apply, verify, backup, the lock) uses the rest.
 */
export class RunContext implements StepContext {
  private materialPromise?: Promise<PrimaryMaterial>;
  private readonly etcdEndpoints = new Map<string, Promise<string>>();
  private readonly kubeClients = new Map<string, Promise<KubeClient>>();
  private readonly cleanups: (() => Promise<void>)[] = [];
  /** When this run began: names the run's backup directory on the hosts. */
  readonly started = new Date();
  /** New keys, generated ahead while the backup runs (see Step.prepare). */
  readonly keys = new KeyPool();
  /** Set on a step's view whose effects are recorded (see `recording`). */
  private view?: EffectView;
  private standInKeys?: StandInKeys;
  /**
   * Set inside a plan's run of the steps (see `planningOnly`): only that call chain is refused
   * changes, so the backup and the cluster lock may go on beside it.
   */
  private readonly planningScope = new AsyncLocalStorage<true>();
  private readonly planning = (): boolean => this.planningScope.getStore() === true;
  private readonly guardedHosts = new Map<string, Host>();

  readonly inventory: Inventory;
  readonly discovery: DiscoveryResult;
  readonly hosts: Map<string, Host>;
  readonly reporter: Reporter;
  readonly access: ClusterConnections;
  private readonly etcdOf?: Etcd;

  private constructor(parts: RunContextParts) {
    this.inventory = parts.inventory;
    this.discovery = parts.discovery;
    this.hosts = parts.hosts;
    this.reporter = parts.reporter;
    this.access = parts.access;
    this.etcdOf = parts.etcd;
  }

  /** A context from parts already open: the SSH ones (`open`) or a unit test's stand-ins. */
  static assemble(parts: RunContextParts): RunContext {
    return new RunContext(parts);
  }

  static async open(
    inventory: Inventory,
    discovery: DiscoveryResult,
    hosts: Map<string, Host>,
    reporter: Reporter,
  ): Promise<RunContext> {
    const primary = hosts.get(inventory.primary.name);
    if (!primary) throw new Error(`internal: no connection to ${inventory.primary.name}`);
    const access = await ClusterAccess.open(primary, discovery.cluster.certificatesDir);
    return RunContext.assemble({ inventory, discovery, hosts, reporter, access });
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
    if (this.view) return this.view.host(h);
    let g = this.guardedHosts.get(name);
    if (!g) this.guardedHosts.set(name, (g = new GuardedHost(h, this.planning)));
    return g;
  }

  /**
   * Runs `fn` (the plan's recording of the steps) with this context refusing every change: a step
   * that reached past its recording view fails the plan instead of changing anything.
   */
  async planningOnly<T>(fn: () => Promise<T>): Promise<T> {
    return this.planningScope.run(true, fn);
  }

  /** etcd membership, through the primary's member (a voter from the start). */
  get etcd(): Etcd {
    const real =
      this.etcdOf ?? etcdThrough((fn) => this.atMember(this.inventory.primary.name, fn), this.access.etcdTls);
    return this.view ? this.view.etcd(real) : guardedEtcd(real, this.planning);
  }

  /** Whether this view only records what it would change (a plan). */
  get dry(): boolean {
    return this.view?.sink.dry ?? false;
  }

  /**
   * The same context for one step's run with every change recorded into `sink`: dry (a plan) also
   * keeps it from happening, and `world` carries what earlier steps' recorded changes made of things.
   * Steps keep reading through it as they always do; the same code runs in plan and in apply.
   */
  recording(sink: EffectSink, world: World): RunContext {
    // A plan's view must never hand out one that changes things.
    if (this.dry && !sink.dry) throw new Error("internal: a recording view inside a plan");
    const view = Object.create(this) as RunContext;
    view.view = new EffectView(sink, world, (path) => this.predictedObject(path));
    if (sink.dry) {
      Object.defineProperty(view, "reporter", { value: quietReporter(this.reporter) });
      Object.defineProperty(view, "keys", { value: (this.standInKeys ??= new StandInKeys()) });
    }
    return view;
  }

  /** Waits until `check` holds (about `host`, if about one); recorded as a wait, in a plan not waited for. */
  async until(check: () => Promise<boolean>, options: PollOptions, host?: string): Promise<void> {
    this.view?.wait(options.what, host);
    if (this.dry) return;
    // A step's wait holds up the steps after it: asked again closely (not backed off to 2 s), unless
    // the step says otherwise.
    await pollUntil(check, { ...CLOSE_POLL, ...options });
  }

  /**
   * An object a plan expects to exist by the time a step reads it, though it does not yet: a new
   * master's Node, registered and Ready once its kubelet runs with the files the plan writes.
   */
  private predictedObject(path: string): KubeObject | undefined {
    const m = this.inventory.masters.find((h) => objectPath("nodes", h.name) === path);
    if (!m) return undefined;
    const now = new Date().toISOString();
    return {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: m.name },
      status: { conditions: [{ type: "Ready", status: "True", lastHeartbeatTime: now }] },
    };
  }

  material(): Promise<PrimaryMaterial> {
    // The primary's own files, as they are: the same for every view (and cached once).
    const primary = this.hosts.get(this.inventory.primary.name);
    if (!primary) throw new Error(`internal: no connection to ${this.inventory.primary.name}`);
    this.materialPromise ??= readPrimaryMaterial(primary, this.cluster.certificatesDir);
    return this.materialPromise;
  }

  /** A local URL reaching `name`'s etcd member (one forward per host, reused). */
  etcdEndpoint(name: string): Promise<string> {
    let p = this.etcdEndpoints.get(name);
    if (!p) {
      const real = this.hosts.get(name);
      if (!real) throw new Error(`internal: no connection to host ${name}`);
      p = this.access.etcdEndpoint(real);
      this.etcdEndpoints.set(name, p);
    }
    return p;
  }

  /** `fn` on a client of `name`'s own etcd member, through its tunnel. */
  private atMember<T>(
    name: string,
    fn: (client: EtcdEndpointClient) => Promise<T>,
    options?: EtcdClientOptions,
  ): Promise<T> {
    return this.etcdEndpoint(name).then((ep) => withEndpoint(ep, this.access.etcdTls, fn, options));
  }

  etcdMembers(at = this.inventory.primary.name, timeoutMs?: number): Promise<EtcdMember[]> {
    return this.atMember(at, listMembers, timeoutMs === undefined ? {} : { timeoutMs });
  }

  etcdStatus(name: string, timeoutMs: number): Promise<EndpointStatus> {
    return this.atMember(name, endpointStatus, { timeoutMs });
  }

  get connectedHosts(): readonly string[] {
    return [...this.hosts.keys()];
  }

  /** A client for the apiserver on master `name`, checked against that master's own address. */
  kube(name: string): Promise<KubeClient> {
    let p = this.kubeClients.get(name);
    if (!p) {
      const h = this.masters.find((m) => m.name === name);
      if (!h) throw new Error(`internal: ${name} is not a master`);
      const real = this.hosts.get(name);
      if (!real) throw new Error(`internal: no connection to host ${name}`);
      p = this.access.kube(real, this.cluster.securePort, h.address);
      this.kubeClients.set(name, p);
    }
    return this.view ? this.view.kube(name, p) : p.then((k) => guardedKube(k, this.planning));
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

/** A plan's steps run quietly: what they would report is for the log only. */
function quietReporter(r: Reporter): Reporter {
  const q = Object.create(r) as Reporter;
  const toLog = (m: string) => r.debug(`(plan) ${m}`);
  q.info = toLog;
  q.warn = toLog;
  q.step = (host, m) => toLog(`[${host}] ${m}`);
  q.progress = (host, m) => toLog(`[${host}] ${m}`);
  q.begin = () => {};
  q.end = () => {};
  return q;
}
