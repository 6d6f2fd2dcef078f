// The Kubernetes API objects kubeha reads and edits, each defined once, with only the fields it uses.
import type { KubeObject } from "./client.js";

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

export interface NodeCondition {
  type: string;
  status: string;
  lastHeartbeatTime?: string;
  reason?: string;
}

export interface NodeObject extends KubeObject {
  metadata: KubeObject["metadata"] & { labels?: Record<string, string> };
  spec?: { taints?: Taint[] };
  status?: { addresses?: { type: string; address: string }[]; conditions?: NodeCondition[] };
}

export type ConfigMap = KubeObject & { data?: Record<string, string> };

export interface DaemonSet extends KubeObject {
  metadata: KubeObject["metadata"] & { generation?: number };
  spec: { template: { metadata?: { annotations?: Record<string, string> } } };
  status?: {
    observedGeneration?: number;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
  };
}

/** coordination.k8s.io/v1 LeaseSpec: kubeha's lock and the components' leader election. */
export interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  /** MicroTime strings, as the API keeps them. */
  acquireTime?: string;
  renewTime?: string;
}

export type Lease = KubeObject & { spec?: LeaseSpec };
