/** etcd for kubeha: per-endpoint clients, membership, health and hashKV, snapshots. */
export * from "./client.js";
export * from "./health.js";
export * from "./members.js";
export * from "./snapshot.js";
