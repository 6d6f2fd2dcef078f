// etcd membership as one narrow interface, so that a plan can record it (src/effects/etcd.ts) and a
// test can stand in for it; the real one talks to one member (the primary's, always a voter).
import type { EtcdEndpointClient, EtcdTls } from "./client.js";
import { clusterHealth } from "./health.js";
import {
  addLearner,
  listMembers,
  promoteWhenInSync,
  removeMember,
  updatePeerUrls,
  type AddLearnerOptions,
  type AddLearnerResult,
  type EtcdMember,
  type PromoteOptions,
  type PromoteResult,
} from "./members.js";

export interface Etcd {
  members(): Promise<EtcdMember[]>;
  addLearner(peerUrl: string, options: AddLearnerOptions): Promise<AddLearnerResult>;
  /** Promotes learner `id` once it is in sync (a wait as much as a change). */
  promote(id: string, options: PromoteOptions): Promise<PromoteResult>;
  remove(id: string): Promise<boolean>;
  updatePeerUrls(id: string, urls: string[]): Promise<boolean>;
  /** Whether the members reached at `endpoints` (one each) are healthy, and why not. Reads only. */
  health(endpoints: string[]): Promise<{ healthy: boolean; problems: string[] }>;
}

/** Every call through a fresh client of the member `connect` reaches. */
export function etcdThrough(
  connect: <T>(fn: (c: EtcdEndpointClient) => Promise<T>) => Promise<T>,
  tls: EtcdTls,
): Etcd {
  return {
    members: () => connect(listMembers),
    addLearner: (peerUrl, options) => connect((c) => addLearner(c, peerUrl, options)),
    promote: (id, options) => connect((c) => promoteWhenInSync(c, id, options)),
    remove: (id) => connect((c) => removeMember(c, id)),
    updatePeerUrls: (id, urls) => connect((c) => updatePeerUrls(c, id, urls)),
    health: (endpoints) => clusterHealth(endpoints, tls),
  };
}
