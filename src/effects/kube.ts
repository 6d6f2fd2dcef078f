// API writes recorded, field by field. Tap (apply): carried out and recorded. Dry (plan): recorded
// only; a later read of the same object in the plan sees the edit. An object the plan expects to
// appear (a new master's Node, registered by its kubelet) is read as `predict` says it will be.
import { KubeApiError, type KubeClient, type KubeObject } from "../kube/client.js";
import type { ApiEffect, EffectSink } from "./types.js";

export type ObjectOverlay = Map<string, KubeObject>;

/** Fields that change by themselves or only as a consequence of the edit. */
const IGNORED = new Set([
  "metadata.resourceVersion",
  "metadata.managedFields",
  "metadata.generation",
  "status",
]);

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (IGNORED.has(prefix)) return;
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else {
    out.set(prefix, value);
  }
}

/** Every field that differs between two versions of an object (arrays compared whole). */
export function fieldChanges(before: unknown, after: unknown): ApiEffect["changes"] {
  const a = new Map<string, unknown>();
  const b = new Map<string, unknown>();
  flatten(before ?? {}, "", a);
  flatten(after ?? {}, "", b);
  const out: ApiEffect["changes"] = [];
  for (const field of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    if (JSON.stringify(a.get(field)) === JSON.stringify(b.get(field))) continue;
    out.push({
      field,
      ...(a.get(field) !== undefined && { before: a.get(field) }),
      ...(b.get(field) !== undefined && { after: b.get(field) }),
    });
  }
  return out;
}

export function recordingKube(
  real: KubeClient,
  sink: EffectSink,
  overlay: ObjectOverlay,
  predict: (path: string) => KubeObject | undefined = () => undefined,
): KubeClient {
  // What each object was when last read: an update is recorded against it.
  const read = new Map<string, KubeObject>();
  const k = Object.create(real) as KubeClient;
  // Applied: recorded once the API took it; an update refused (409, then read again and retried) changed nothing.
  const carried = async <R>(effect: ApiEffect, call: () => Promise<R>): Promise<R> => {
    const out = await call();
    sink.record(effect);
    return out;
  };
  const get = async <T>(path: string): Promise<T> => {
    let obj: KubeObject | undefined = sink.dry ? overlay.get(path) : undefined;
    if (!obj) {
      try {
        obj = await real.get<KubeObject>(path);
      } catch (err) {
        const p = sink.dry && err instanceof KubeApiError && err.status === 404 ? predict(path) : undefined;
        if (!p) throw err;
        obj = p;
      }
    }
    read.set(path, structuredClone(obj));
    return structuredClone(obj) as T;
  };
  k.get = get;
  k.getOptional = async <T>(path: string): Promise<T | undefined> => {
    try {
      return await get<T>(path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  };
  k.update = async <T extends KubeObject>(path: string, object: T): Promise<T> => {
    const effect: ApiEffect = {
      kind: "api",
      verb: "update",
      object: path,
      ...(object.metadata.resourceVersion !== undefined && {
        resourceVersion: object.metadata.resourceVersion,
      }),
      changes: fieldChanges(read.get(path), object),
    };
    if (!sink.dry) return carried(effect, () => real.update(path, object));
    sink.record(effect);
    overlay.set(path, structuredClone(object));
    return object;
  };
  k.mergePatch = async <T>(path: string, patch: unknown): Promise<T> => {
    const effect: ApiEffect = { kind: "api", verb: "patch", object: path, changes: fieldChanges({}, patch) };
    if (!sink.dry) return carried(effect, () => real.mergePatch<T>(path, patch));
    sink.record(effect);
    return await get<T>(path);
  };
  k.create = async <T extends KubeObject>(collection: string, object: T): Promise<T> => {
    const effect: ApiEffect = {
      kind: "api",
      verb: "create",
      object: `${collection}/${object.metadata.name}`,
      changes: fieldChanges({}, object),
    };
    if (!sink.dry) return carried(effect, () => real.create(collection, object));
    sink.record(effect);
    return object;
  };
  k.delete = async (path: string, preconditions?: { resourceVersion?: string; uid?: string }) => {
    const effect: ApiEffect = { kind: "api", verb: "delete", object: path, changes: [] };
    if (!sink.dry) return carried(effect, () => real.delete(path, preconditions));
    sink.record(effect);
    return true;
  };
  return k;
}
