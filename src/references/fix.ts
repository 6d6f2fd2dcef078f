/**
 * The safe edits of `kubeha references --fix`, as pure functions: the plan diff of each object and
 * the object with only those values changed. An object whose value is no longer what the scan read
 * is refused, never overwritten.
 */
import { KubehaError } from "../errors.js";
import { unifiedDiff } from "../render/diff.js";
import type { ObjectFix, ScannedObject } from "./scan.js";

/** "ConfigMap kube-system/cni-config". */
export function fixName(f: ObjectFix): string {
  return `${f.kind} ${f.namespace}/${f.name}`;
}

/** The API path of the object a fix changes. */
export function fixPath(f: ObjectFix): string {
  return f.kind === "ConfigMap"
    ? `/api/v1/namespaces/${f.namespace}/configmaps/${f.name}`
    : `/apis/apps/v1/namespaces/${f.namespace}/daemonsets/${f.name}`;
}

/** The plan: one unified diff per changed value (a ConfigMap key, or `container/ENV` of a DaemonSet). */
export function fixDiff(f: ObjectFix): string {
  const field = (e: string) => (f.kind === "ConfigMap" ? `data/${e}` : `env/${e}`);
  return f.edits
    .map((e) => {
      const nl = (s: string) => (s.endsWith("\n") ? s : `${s}\n`);
      const base = `${f.kind}/${f.namespace}/${f.name}/${field(e.field)}`;
      return unifiedDiff(nl(e.before), nl(e.after), {
        fromFile: `a/${base}`,
        toFile: `b/${base}`,
        context: 1,
      });
    })
    .join("");
}

interface EnvVar {
  name?: string;
  value?: unknown;
}
interface Container {
  name?: string;
  env?: EnvVar[];
}

/** The DaemonSet's env entry `container/NAME`, among its containers and init containers. */
function envVar(obj: ScannedObject, field: string): EnvVar | undefined {
  const slash = field.indexOf("/");
  const container = field.slice(0, slash);
  const name = field.slice(slash + 1);
  const spec = (obj.spec as { template?: { spec?: Record<string, unknown> } } | undefined)?.template?.spec;
  const all = [
    ...((spec?.initContainers as Container[] | undefined) ?? []),
    ...((spec?.containers as Container[] | undefined) ?? []),
  ];
  return all.find((c) => (c.name ?? "") === container)?.env?.find((e) => e.name === name);
}

/**
 * `obj` (as just read) with the fix's values changed. Refuses, naming the object and field, when the
 * object is not at the resourceVersion the scan read or a value is not what it was.
 */
export function applyFix<T extends ScannedObject>(obj: T, f: ObjectFix): T {
  if (obj.metadata.resourceVersion !== f.resourceVersion) {
    throw new KubehaError(
      `${fixName(f)} changed since the scan (resourceVersion ${f.resourceVersion} → ${obj.metadata.resourceVersion ?? "?"}); nothing written to it: run \`kubeha references\` again`,
    );
  }
  const out = structuredClone(obj);
  for (const e of f.edits) {
    if (f.kind === "ConfigMap") {
      const data = (out.data ?? {}) as Record<string, string>;
      if (data[e.field] !== e.before) throw stale(f, `data.${e.field}`);
      data[e.field] = e.after;
    } else {
      const v = envVar(out, e.field);
      if (!v || v.value !== e.before) throw stale(f, `env ${e.field}`);
      v.value = e.after;
    }
  }
  return out;
}

function stale(f: ObjectFix, field: string): KubehaError {
  return new KubehaError(`${fixName(f)} ${field} is not what the scan read; nothing written to it`);
}
