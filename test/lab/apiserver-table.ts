/**
 * Server-side printing for the apiserver stand-in: kubectl's default output asks for a meta.k8s.io
 * Table; these are the columns the real apiserver prints for each resource.
 */
import type { Obj } from "./apiserver-store.js";

type Cell = string | number;
type Columns = [string, (o: Obj) => Cell][];

function age(o: Obj): string {
  const created = Date.parse(String(o.metadata.creationTimestamp ?? ""));
  if (Number.isNaN(created)) return "<unknown>";
  const s = Math.max(0, Math.floor((Date.now() - created) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

const field = (o: Obj, ...path: string[]): unknown =>
  path.reduce<unknown>(
    (v, k) => (v && typeof v === "object" ? (v as Record<string, unknown>)[k] : undefined),
    o,
  );
const count = (v: unknown): number => (v && typeof v === "object" ? Object.keys(v).length : 0);
const num = (o: Obj, k: string): number => Number(field(o, "status", k) ?? 0);

function nodeStatus(o: Obj): string {
  const conds = (field(o, "status", "conditions") ?? []) as { type?: string; status?: string }[];
  const ready = conds.find((c) => c.type === "Ready");
  const s = ready?.status === "True" ? "Ready" : ready ? "NotReady" : "Unknown";
  return field(o, "spec", "unschedulable") ? `${s},SchedulingDisabled` : s;
}

function nodeRoles(o: Obj): string {
  const labels = (o.metadata.labels ?? {}) as Record<string, string>;
  const roles = Object.keys(labels)
    .filter((k) => k.startsWith("node-role.kubernetes.io/"))
    .map((k) => k.slice("node-role.kubernetes.io/".length));
  return roles.length ? roles.sort().join(",") : "<none>";
}

const COLUMNS: Record<string, Columns> = {
  ConfigMap: [
    ["Data", (o) => count(o.data) + count(o.binaryData)],
    ["Age", age],
  ],
  Node: [
    ["Status", nodeStatus],
    ["Roles", nodeRoles],
    ["Age", age],
    ["Version", (o) => String(field(o, "status", "nodeInfo", "kubeletVersion") ?? "")],
  ],
  DaemonSet: [
    ["Desired", (o) => num(o, "desiredNumberScheduled")],
    ["Current", (o) => num(o, "currentNumberScheduled")],
    ["Ready", (o) => num(o, "numberReady")],
    ["Up-to-date", (o) => num(o, "updatedNumberScheduled")],
    ["Available", (o) => num(o, "numberAvailable")],
    [
      "Node Selector",
      (o) =>
        Object.entries((field(o, "spec", "template", "spec", "nodeSelector") ?? {}) as Record<string, string>)
          .map(([k, v]) => `${k}=${v}`)
          .join(",") || "<none>",
    ],
    ["Age", age],
  ],
  Lease: [
    ["Holder", (o) => String(field(o, "spec", "holderIdentity") ?? "")],
    ["Age", age],
  ],
  Namespace: [
    ["Status", (o) => String(field(o, "status", "phase") ?? "Active")],
    ["Age", age],
  ],
};

/** True when the client asked for a Table (kubectl's human-readable `get`). */
export function wantsTable(accept: string | undefined): boolean {
  return /as=Table/.test(accept ?? "");
}

export function toTable(kind: string, objs: Obj[], resourceVersion?: string, next?: string): unknown {
  const cols = COLUMNS[kind] ?? [["Age", age]];
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion, ...(next && { continue: next }) },
    columnDefinitions: [["Name", undefined] as const, ...cols].map(([name]) => ({
      name,
      type: "string",
      format: name === "Name" ? "name" : "",
      description: "",
      priority: 0,
    })),
    rows: objs.map((o) => ({
      cells: [o.metadata.name, ...cols.map(([, cell]) => cell(o))],
      object: { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata },
    })),
  };
}
