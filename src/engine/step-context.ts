import type { Inventory, InventoryHost } from "../inventory/types.js";
import type { ClusterFacts, DiscoveryResult } from "../discover/types.js";
import type { Host } from "../ssh/types.js";
import type { Reporter } from "../ui/reporter.js";
import type { KubeClient } from "../kube/client.js";
import type { KeyPool } from "../pki/key-pool.js";
import type { EtcdMember } from "../etcd/members.js";
import type { EndpointStatus } from "../etcd/health.js";
import type { Etcd } from "../etcd/ops.js";
import type { PollOptions } from "../poll.js";
import type { PrimaryMaterial } from "./material.js";

/**
 * What a step, and the phase code that makes it, may use: the run's facts and the interfaces whose
 * changes are guarded and recorded (a plan records them, `apply` carries them out). The raw
 * connections behind them (RunContext's `hosts` and `access`) stay in the engine: a step that could
 * reach them could change something its plan never showed.
 */
export interface StepContext {
  readonly inventory: Inventory;
  readonly discovery: DiscoveryResult;
  readonly cluster: ClusterFacts;
  /** The masters in order: the primary first, then the new ones. */
  readonly masters: InventoryHost[];
  readonly reporter: Reporter;
  /** When this run began: names the run's backup files on the hosts. */
  readonly started: Date;
  /** New keys, generated ahead (see Step.prepare). */
  readonly keys: KeyPool;
  /** The hosts kubeha holds a connection to (a master being retired among them). */
  readonly connectedHosts: readonly string[];
  host(name: string): Host;
  /** etcd membership, through the primary's member. */
  readonly etcd: Etcd;
  /** A local URL reaching `name`'s etcd member. */
  etcdEndpoint(name: string): Promise<string>;
  /** The members as `at`'s etcd member lists them (default: the primary's, a voter from the start). */
  etcdMembers(at?: string, timeoutMs?: number): Promise<EtcdMember[]>;
  /** `name`'s own etcd member's status (leader, raft index, learner or not), within `timeoutMs`. */
  etcdStatus(name: string, timeoutMs: number): Promise<EndpointStatus>;
  kube(name: string): Promise<KubeClient>;
  material(): Promise<PrimaryMaterial>;
  /** Waits until `check` holds; a plan records the wait instead. */
  until(check: () => Promise<boolean>, options: PollOptions, host?: string): Promise<void>;
}
