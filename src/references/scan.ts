/**
 * What still points at the primary's apiserver directly, object by object and file by file: each
 * reference with where it is, what it says, the exact change it needs, and whether kubeha can make
 * that change safely (`kubeha references --fix`), makes it itself (`kubeha apply`), or only advises.
 * Pure: the objects and file lines come from collect.ts. A Secret's values are read here but never
 * put into a reference: only its namespace, name and key are.
 */
import type { KubeObject } from "../kube/client.js";
import { hostPort } from "../render/net.js";
import {
  findEndpoints,
  isHostValue,
  lineAt,
  portKeyFor,
  replaceEndpoints,
  type Endpoint,
  type Target,
} from "./match.js";

/** How a reference gets changed. */
export type Action = { kind: "fix" } | { kind: "apply"; step: string } | { kind: "manual"; advice: string };

export interface Reference {
  /** "ConfigMap kube-system/cni-config", "master-1:/root/.kube/config", "kubeconfig ./ops.conf". */
  where: string;
  /** "data.k8s-service-host", "containers[agent].env[KUBERNETES_SERVICE_HOST]", "line 5". */
  field: string;
  /** What it says now; for a Secret, a description only. */
  says: string;
  /** The exact change: "10.0.0.11:6443 → 10.0.0.20:6443". */
  change: string;
  action: Action;
}

/** One value of an object that --fix changes, checked against `before` when it is applied. */
export interface FieldEdit {
  field: string;
  before: string;
  after: string;
}

/** The safe edits of one object, made only while it still has `resourceVersion`. */
export interface ObjectFix {
  kind: "ConfigMap" | "DaemonSet";
  namespace: string;
  name: string;
  resourceVersion: string;
  edits: FieldEdit[];
}

export interface Scan {
  references: Reference[];
  fixes: ObjectFix[];
}

/** An object as the API lists it. */
export type ScannedObject = KubeObject;
type Meta = KubeObject["metadata"];

/** The ConfigMap values kubeha's own conversion moves to the LB: reported, never fixed here. */
const APPLY_MANAGED: Record<string, string> = {
  "kube-system/kube-proxy/kubeconfig.conf": "clients/kube-proxy",
  "kube-public/cluster-info/kubeconfig": "clients/cluster-info",
  "kube-system/kubeadm-config/ClusterConfiguration": "clients/kubeadm-config",
};

const objectName = (m: Meta): string => (m.namespace ? `${m.namespace}/${m.name}` : m.name);

function arrow(from: string, to: string): string {
  return `${from} → ${to}`;
}

/**
 * The edits of one map of named string values (ConfigMap data, a container's env): every
 * `host:port` inside a value, and host/port pairs whose host value is the primary on its own.
 */
function valueEdits(values: Map<string, string>, t: Target, lb: Endpoint): FieldEdit[] {
  const after = new Map<string, string>();
  for (const [key, value] of values) {
    const replaced = replaceEndpoints(value, t, lb);
    if (replaced !== value) after.set(key, replaced);
    if (!isHostValue(key, value, t)) continue;
    after.set(key, value.replace(value.trim(), lb.address));
    const portKey = portKeyFor(key);
    const port = portKey === undefined ? undefined : values.get(portKey);
    if (portKey && port?.trim() === String(t.port) && lb.port !== t.port)
      after.set(portKey, port.replace(port.trim(), String(lb.port)));
  }
  // An LB on the primary's own address changes only the port.
  return [...after]
    .map(([field, a]) => ({ field, before: values.get(field) ?? "", after: a }))
    .filter((e) => e.after !== e.before);
}

/** One reference per changed value: what it says (the line of each match) and the change. */
function describe(edit: FieldEdit, t: Target, lb: Endpoint): { says: string; change: string }[] {
  const matches = findEndpoints(edit.before, t);
  if (matches.length === 0) {
    // A host or port value on its own.
    return [{ says: lineAt(edit.before, 0), change: arrow(edit.before.trim(), edit.after.trim()) }];
  }
  return matches.map((m) => ({
    says: (edit.before.includes("\n") ? `line ${m.line}: ` : "") + lineAt(edit.before, m.index),
    change: arrow(m.text, hostPort(lb.address, lb.port)),
  }));
}

export function scanConfigMap(cm: ScannedObject, t: Target, lb: Endpoint): Scan {
  const data = (cm.data ?? {}) as Record<string, unknown>;
  const values = new Map(Object.entries(data).filter((e): e is [string, string] => typeof e[1] === "string"));
  const where = `ConfigMap ${objectName(cm.metadata)}`;
  const references: Reference[] = [];
  const fixEdits: FieldEdit[] = [];
  for (const edit of valueEdits(values, t, lb)) {
    const step = APPLY_MANAGED[`${objectName(cm.metadata)}/${edit.field}`];
    if (!step) fixEdits.push(edit);
    const action: Action = step ? { kind: "apply", step } : { kind: "fix" };
    for (const d of describe(edit, t, lb))
      references.push({ where, field: `data.${edit.field}`, ...d, action });
  }
  return { references, fixes: objectFix("ConfigMap", cm.metadata, fixEdits) };
}

function objectFix(kind: ObjectFix["kind"], m: Meta, edits: FieldEdit[]): ObjectFix[] {
  if (edits.length === 0 || !m.resourceVersion) return [];
  return [{ kind, namespace: m.namespace ?? "", name: m.name, resourceVersion: m.resourceVersion, edits }];
}

const KUBECONFIG_LIKE = /^\s*clusters:|server:/m;

/** Every data key of a Secret whose decoded value names the primary; the value is never shown. */
export function scanSecret(secret: ScannedObject, t: Target, lb: Endpoint): Scan {
  const data = (secret.data ?? {}) as Record<string, unknown>;
  const where = `Secret ${objectName(secret.metadata)}`;
  const references: Reference[] = [];
  for (const [key, encoded] of Object.entries(data)) {
    if (typeof encoded !== "string") continue;
    const text = Buffer.from(encoded, "base64").toString("utf8");
    const found = findEndpoints(text, t);
    if (found.length === 0) continue;
    const what = KUBECONFIG_LIKE.test(text) ? "a kubeconfig" : "a value";
    references.push({
      where,
      field: `data.${key}`,
      says: `${what} naming ${[...new Set(found.map((f) => f.text))].join(", ")} (value not shown)`,
      change: arrow(found[0]!.text, hostPort(lb.address, lb.port)),
      action: {
        kind: "manual",
        advice: `decode data.${key}, change ${found[0]!.text} to ${hostPort(lb.address, lb.port)}, write it back; better, at whatever creates this Secret`,
      },
    });
  }
  return { references, fixes: [] };
}

interface Container {
  name?: string;
  env?: { name?: string; value?: unknown }[];
  args?: unknown[];
  command?: unknown[];
}

/**
 * DaemonSets, Deployments and StatefulSets: each container's env values, args and command.
 * DaemonSet env values are safe to edit (the pods roll with it); the rest is the workload's owner's.
 */
export function scanWorkload(obj: ScannedObject, t: Target, lb: Endpoint): Scan {
  const kind = obj.kind ?? "workload";
  const where = `${kind} ${objectName(obj.metadata)}`;
  const spec = (obj.spec as { template?: { spec?: Record<string, unknown> } } | undefined)?.template?.spec;
  const containers = [
    ...((spec?.initContainers as Container[] | undefined) ?? []),
    ...((spec?.containers as Container[] | undefined) ?? []),
  ];
  const references: Reference[] = [];
  const fixEdits: FieldEdit[] = [];
  const safe = kind === "DaemonSet";
  const manual: Action = {
    kind: "manual",
    advice: `change it where ${kind} ${objectName(obj.metadata)} is defined (manifest, Helm values, operator), then let it roll out`,
  };
  for (const c of containers) {
    const env = new Map(
      (c.env ?? []).flatMap((e) =>
        typeof e.name === "string" && typeof e.value === "string" ? [[e.name, e.value] as const] : [],
      ),
    );
    for (const edit of valueEdits(env, t, lb)) {
      const field = `containers[${c.name ?? "?"}].env[${edit.field}]`;
      if (safe) fixEdits.push({ ...edit, field: `${c.name ?? ""}/${edit.field}` });
      for (const d of describe(edit, t, lb))
        references.push({ where, field, ...d, action: safe ? { kind: "fix" } : manual });
    }
    for (const list of ["args", "command"] as const) {
      (c[list] ?? []).forEach((v, i) => {
        if (typeof v !== "string") return;
        for (const m of findEndpoints(v, t)) {
          references.push({
            where,
            field: `containers[${c.name ?? "?"}].${list}[${i}]`,
            says: lineAt(v, m.index),
            change: arrow(m.text, hostPort(lb.address, lb.port)),
            action: manual,
          });
        }
      });
    }
  }
  return { references, fixes: objectFix("DaemonSet", obj.metadata, fixEdits) };
}

/** Every string under `value`, with its path (`webhooks[0].clientConfig.url`). */
function strings(value: unknown, path: string): [string, string][] {
  if (typeof value === "string") return [[path, value]];
  if (Array.isArray(value)) return value.flatMap((v, i) => strings(v, `${path}[${i}]`));
  if (value && typeof value === "object")
    return Object.entries(value).flatMap(([k, v]) => strings(v, path ? `${path}.${k}` : k));
  return [];
}

/**
 * Webhook configurations (clientConfig.url) and APIServices (their spec): the apiserver calls
 * these; a URL that names one master fails with it. Report only.
 */
export function scanCallbacks(obj: ScannedObject, t: Target, lb: Endpoint): Scan {
  const where = `${obj.kind ?? "object"} ${objectName(obj.metadata)}`;
  const body = obj.kind === "APIService" ? { spec: obj.spec } : { webhooks: obj.webhooks };
  const references: Reference[] = [];
  for (const [field, v] of strings(body, "")) {
    for (const m of findEndpoints(v, t)) {
      references.push({
        where,
        field,
        says: lineAt(v, m.index),
        change: arrow(m.text, hostPort(lb.address, lb.port)),
        action: {
          kind: "manual",
          advice: `point ${field} at ${hostPort(lb.address, lb.port)} (or at a Service) where ${obj.kind} ${obj.metadata.name} is defined`,
        },
      });
    }
  }
  return { references, fixes: [] };
}

/** A line of a file that holds the target (from `grep -n` on a host, or a local file). */
export interface FileLine {
  line: number;
  text: string;
}

/** File lines: report only, with the exact edit. `where` is "host:path" or "kubeconfig path". */
export function scanFileLines(
  where: string,
  lines: FileLine[],
  t: Target,
  lb: Endpoint,
  advice: string,
): Reference[] {
  return lines.flatMap((l) =>
    findEndpoints(l.text, t).map((m) => ({
      where,
      field: `line ${l.line}`,
      says: lineAt(l.text, m.index),
      change: arrow(m.text, hostPort(lb.address, lb.port)),
      action: { kind: "manual", advice } as Action,
    })),
  );
}

/** Lines of `text`, numbered from 1. */
export function numberedLines(text: string): FileLine[] {
  return text.split("\n").map((l, i) => ({ line: i + 1, text: l }));
}

/** Everything found, in one scan. */
export function merge(scans: Scan[]): Scan {
  return { references: scans.flatMap((s) => s.references), fixes: scans.flatMap((s) => s.fixes) };
}
