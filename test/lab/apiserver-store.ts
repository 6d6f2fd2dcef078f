/**
 * The apiserver stand-in's storage: Kubernetes objects as JSON in etcd under /registry, as a real
 * apiserver with --storage-media-type=application/json keeps them; resourceVersion is the key's
 * mod revision and every write is a transaction on it (optimistic concurrency).
 */
import { randomUUID } from "node:crypto";
import { Range } from "etcd3";
import type { EtcdEndpointClient } from "../../src/etcd/client.js";

export interface Resource {
  /** URL plural: configmaps, nodes, daemonsets, namespaces. */
  plural: string;
  /** The etcd directory: real apiservers keep nodes under "minions". */
  storage: string;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  shortNames: string[];
  /** A status subresource: the main resource ignores status changes (not ConfigMaps, not Leases). */
  hasStatus: boolean;
}

export const RESOURCES: Resource[] = [
  {
    plural: "configmaps",
    storage: "configmaps",
    kind: "ConfigMap",
    apiVersion: "v1",
    namespaced: true,
    shortNames: ["cm"],
    hasStatus: false,
  },
  {
    plural: "nodes",
    storage: "minions",
    kind: "Node",
    apiVersion: "v1",
    namespaced: false,
    shortNames: ["no"],
    hasStatus: true,
  },
  {
    plural: "namespaces",
    storage: "namespaces",
    kind: "Namespace",
    apiVersion: "v1",
    namespaced: false,
    shortNames: ["ns"],
    hasStatus: true,
  },
  {
    plural: "daemonsets",
    storage: "daemonsets",
    kind: "DaemonSet",
    apiVersion: "apps/v1",
    namespaced: true,
    shortNames: ["ds"],
    hasStatus: true,
  },
  {
    plural: "deployments",
    storage: "deployments",
    kind: "Deployment",
    apiVersion: "apps/v1",
    namespaced: true,
    shortNames: ["deploy"],
    hasStatus: true,
  },
  {
    plural: "statefulsets",
    storage: "statefulsets",
    kind: "StatefulSet",
    apiVersion: "apps/v1",
    namespaced: true,
    shortNames: ["sts"],
    hasStatus: true,
  },
  {
    plural: "secrets",
    storage: "secrets",
    kind: "Secret",
    apiVersion: "v1",
    namespaced: true,
    shortNames: [],
    hasStatus: false,
  },
  {
    plural: "validatingwebhookconfigurations",
    storage: "validatingwebhookconfigurations",
    kind: "ValidatingWebhookConfiguration",
    apiVersion: "admissionregistration.k8s.io/v1",
    namespaced: false,
    shortNames: [],
    hasStatus: false,
  },
  {
    plural: "mutatingwebhookconfigurations",
    storage: "mutatingwebhookconfigurations",
    kind: "MutatingWebhookConfiguration",
    apiVersion: "admissionregistration.k8s.io/v1",
    namespaced: false,
    shortNames: [],
    hasStatus: false,
  },
  {
    plural: "apiservices",
    storage: "apiregistration.k8s.io/apiservices",
    kind: "APIService",
    apiVersion: "apiregistration.k8s.io/v1",
    namespaced: false,
    shortNames: [],
    hasStatus: true,
  },
  {
    plural: "leases",
    storage: "leases",
    kind: "Lease",
    apiVersion: "coordination.k8s.io/v1",
    namespaced: true,
    shortNames: [],
    hasStatus: false,
  },
];

export type Obj = {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
};

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

function key(r: Resource, ns: string | undefined, name?: string): string {
  const dir = `/registry/${r.storage}/${r.namespaced && ns ? `${ns}/` : ""}`;
  return name === undefined ? dir : dir + name;
}

function decode(value: Buffer, modRevision: string): Obj {
  const obj = JSON.parse(value.toString("utf8")) as Obj;
  obj.metadata.resourceVersion = modRevision;
  return obj;
}

function encode(obj: Obj): string {
  const copy = structuredClone(obj);
  delete copy.metadata.resourceVersion;
  return JSON.stringify(copy);
}

export class Store {
  constructor(private readonly etcd: EtcdEndpointClient) {}

  async get(r: Resource, ns: string | undefined, name: string): Promise<Obj> {
    const res = await this.etcd.get(key(r, ns, name)).exec();
    const kv = res.kvs[0];
    if (!kv) throw notFound(r, name);
    return decode(kv.value, kv.mod_revision);
  }

  /**
   * As kube-apiserver: `limit` objects from etcd at a time, and an opaque `continue` naming the next
   * key and the first page's revision, so that every page reads the same snapshot.
   */
  async list(
    r: Resource,
    ns: string | undefined,
    page: { limit?: number; continue?: string } = {},
  ): Promise<{ items: Obj[]; resourceVersion: string; continue?: string }> {
    const prefix = Range.prefix(key(r, ns));
    let from = prefix.start;
    let rev: string | undefined;
    if (page.continue) {
      try {
        const c = JSON.parse(Buffer.from(page.continue, "base64url").toString()) as {
          key: string;
          rev: string;
        };
        from = Buffer.from(c.key, "base64");
        rev = c.rev;
      } catch {
        throw new ApiError(400, "BadRequest", "continue key is not valid");
      }
    }
    let q = this.etcd.getAll().inRange({ start: from, end: prefix.end });
    if (rev) q = q.revision(rev);
    if (page.limit) q = q.limit(page.limit);
    const res = await q.exec();
    const last = res.kvs.at(-1);
    const revision = rev ?? res.header.revision;
    const next =
      res.more && last
        ? Buffer.from(
            JSON.stringify({
              key: Buffer.concat([last.key, Buffer.from([0])]).toString("base64"),
              rev: revision,
            }),
          ).toString("base64url")
        : undefined;
    return {
      items: res.kvs.map((kv) => decode(kv.value, kv.mod_revision)),
      resourceVersion: revision,
      ...(next && { continue: next }),
    };
  }

  async create(r: Resource, ns: string | undefined, obj: Obj): Promise<Obj> {
    const name = obj.metadata?.name;
    if (!name) throw new ApiError(400, "BadRequest", "metadata.name is required");
    const stored: Obj = {
      ...obj,
      apiVersion: r.apiVersion,
      kind: r.kind,
      metadata: {
        ...obj.metadata,
        ...(r.namespaced ? { namespace: ns } : {}),
        uid: randomUUID(),
        creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        ...(r.kind === "DaemonSet" ? { generation: 1 } : {}),
      },
    };
    const k = key(r, ns, name);
    const txn = await this.etcd
      .if(k, "Create", "==", 0)
      .then(this.etcd.put(k).value(encode(stored)))
      .commit();
    if (!txn.succeeded) {
      throw new ApiError(409, "AlreadyExists", `${r.plural} "${name}" already exists`);
    }
    stored.metadata.resourceVersion = txn.header.revision;
    return stored;
  }

  /** Replace with `next`; when it carries a resourceVersion, only if that is still current. */
  async update(
    r: Resource,
    ns: string | undefined,
    name: string,
    next: Obj,
    expectRv?: string,
    subresource?: string,
  ): Promise<Obj> {
    const current = await this.get(r, ns, name);
    const rv = expectRv ?? next.metadata.resourceVersion;
    if (rv && rv !== current.metadata.resourceVersion) throw conflict(r, name);
    // With a status subresource, the main resource ignores status changes and /status everything else.
    const hasStatus = r.hasStatus;
    const base = subresource === "status" ? { ...current, status: next.status } : next;
    const merged: Obj = {
      ...base,
      ...(hasStatus && subresource !== "status" ? { status: current.status } : {}),
      apiVersion: r.apiVersion,
      kind: r.kind,
      metadata: {
        ...base.metadata,
        name,
        ...(r.namespaced ? { namespace: ns } : {}),
        uid: current.metadata.uid,
        creationTimestamp: current.metadata.creationTimestamp,
      },
    };
    if (r.kind === "DaemonSet") {
      const gen = Number(current.metadata.generation ?? 1);
      const generation = JSON.stringify(current.spec) === JSON.stringify(merged.spec) ? gen : gen + 1;
      merged.metadata.generation = generation;
      // No DaemonSet controller runs in the lab: a rollout is reported finished at once.
      const status = (merged.status ?? {}) as Record<string, unknown>;
      const desired = status.desiredNumberScheduled ?? 0;
      merged.status = {
        ...status,
        observedGeneration: generation,
        updatedNumberScheduled: desired,
        numberAvailable: desired,
      };
    }
    const k = key(r, ns, name);
    const txn = await this.etcd
      .if(k, "Mod", "==", current.metadata.resourceVersion!)
      .then(this.etcd.put(k).value(encode(merged)))
      .commit();
    if (!txn.succeeded) throw conflict(r, name);
    merged.metadata.resourceVersion = txn.header.revision;
    return merged;
  }

  /**
   * Delete, atomically on the version read; with DeleteOptions preconditions, only if the object
   * still has that uid and resourceVersion (else 409 Conflict, as the real apiserver answers).
   */
  async delete(
    r: Resource,
    ns: string | undefined,
    name: string,
    preconditions: { uid?: string; resourceVersion?: string } = {},
  ): Promise<Obj> {
    const current = await this.get(r, ns, name);
    for (const [field, meta] of [
      ["uid", "UID"],
      ["resourceVersion", "ResourceVersion"],
    ] as const) {
      const want = preconditions[field];
      if (want !== undefined && want !== current.metadata[field]) {
        throw new ApiError(
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${r.plural} "${name}": Precondition failed: ${meta} in precondition: ${want}, ${meta} in object meta: ${String(current.metadata[field])}`,
        );
      }
    }
    const k = key(r, ns, name);
    const txn = await this.etcd
      .if(k, "Mod", "==", current.metadata.resourceVersion!)
      .then(this.etcd.delete().key(k))
      .commit();
    if (!txn.succeeded) throw conflict(r, name);
    return current;
  }
}

export function notFound(r: Resource, name: string): ApiError {
  return new ApiError(404, "NotFound", `${r.plural} "${name}" not found`);
}

export function conflict(r: Resource, name: string): ApiError {
  return new ApiError(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${r.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
  );
}

/** RFC 7386 JSON merge patch (also used for strategic merge patches, minus their directives). */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== "object" || patch === null || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> =
    typeof target === "object" && target !== null && !Array.isArray(target) ? { ...(target as object) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (k.startsWith("$")) continue; // strategic merge directives ($setElementOrder, $retainKeys, $patch)
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** RFC 6902 JSON patch: add, remove, replace, test. */
export function jsonPatch(target: unknown, ops: { op: string; path: string; value?: unknown }[]): unknown {
  const doc = structuredClone(target) as Record<string, unknown>;
  for (const op of ops) {
    const parts = op.path
      .split("/")
      .slice(1)
      .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop();
    if (last === undefined) throw new ApiError(422, "Invalid", `json patch: bad path ${op.path}`);
    let parent: Record<string, unknown> | unknown[] = doc;
    for (const p of parts) {
      const next = (parent as Record<string, unknown>)[p];
      if (typeof next !== "object" || next === null)
        throw new ApiError(422, "Invalid", `json patch: no ${op.path}`);
      parent = next as Record<string, unknown>;
    }
    const container = parent as Record<string, unknown>;
    if (op.op === "add" || op.op === "replace") {
      if (Array.isArray(parent) && op.op === "add") {
        parent.splice(last === "-" ? parent.length : Number(last), 0, op.value);
      } else {
        container[last] = op.value;
      }
    } else if (op.op === "remove") {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete container[last];
    } else if (op.op === "test") {
      if (JSON.stringify(container[last]) !== JSON.stringify(op.value)) {
        throw new ApiError(422, "Invalid", `json patch: test failed at ${op.path}`);
      }
    } else {
      throw new ApiError(422, "Invalid", `json patch: unsupported op ${op.op}`);
    }
  }
  return doc;
}
