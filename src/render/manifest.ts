/**
 * kubeadm static pod manifests as a model: parse one (a YAML Pod), read and change its flags, probes,
 * annotations, and write it back without losing anything the model does not cover (the parsed YAML
 * document is kept and only the changed fields are rewritten).
 */
import { Document, isMap, isSeq, parseDocument } from "yaml";
import { KubehaError } from "../errors.js";

/** One element of a container's command line: `--name=value`, `--name` (no value), or a plain word. */
export type Arg =
  | { kind: "flag"; name: string; value: string | undefined; dashes: "-" | "--" }
  | { kind: "word"; value: string };

export type ProbeKind = "livenessProbe" | "readinessProbe" | "startupProbe";
export const PROBE_KINDS: readonly ProbeKind[] = ["livenessProbe", "readinessProbe", "startupProbe"];

/** The httpGet part of a probe (the only kind kubeadm writes). */
export interface HttpProbe {
  host?: string;
  port: number | string;
  path?: string;
  scheme?: string;
}

export interface HostPathVolume {
  name: string;
  hostPath?: { path: string; type?: string };
  [field: string]: unknown;
}

export interface VolumeMount {
  name: string;
  mountPath: string;
  readOnly?: boolean;
  [field: string]: unknown;
}

/** A parsed static pod manifest. Change it with the helpers below, write it with serializeManifest. */
export interface StaticPodManifest {
  /** Where it came from, for error messages (e.g. `master-1:/etc/kubernetes/manifests/etcd.yaml`). */
  file: string;
  podName: string;
  namespace: string | undefined;
  containerName: string;
  image: string;
  /** The image tag without a digest: `v1.31.0`, `3.5.15-0`; undefined when the image has no tag. */
  version: string | undefined;
  /** container.command followed by container.args, in order, repeated flags kept. */
  argv: Arg[];
  /** Index in argv where container.args starts; undefined when the container has no args. */
  argsStart: number | undefined;
  probes: Partial<Record<ProbeKind, HttpProbe>>;
  volumes: HostPathVolume[];
  volumeMounts: VolumeMount[];
  resources: Record<string, unknown>;
  annotations: Record<string, string>;
  labels: Record<string, string>;
  /** The parsed document (never mutated by the helpers; serializeManifest works on a clone). */
  readonly doc: Document;
  /** Index of the modelled container in spec.containers. */
  readonly containerIndex: number;
}

/** Well-known kubeadm annotations. */
export const ANNOTATION_APISERVER_ENDPOINT =
  "kubeadm.kubernetes.io/kube-apiserver.advertise-address.endpoint";
export const ANNOTATION_ETCD_CLIENT_URLS = "kubeadm.kubernetes.io/etcd.advertise-client-urls";

/** Parse one command-line word into an Arg. */
export function parseArg(word: string): Arg {
  const m = /^(--?)([A-Za-z0-9][A-Za-z0-9._-]*)(?:=(.*))?$/s.exec(word);
  if (!m) return { kind: "word", value: word };
  return { kind: "flag", name: m[2] ?? "", value: m[3], dashes: m[1] === "-" ? "-" : "--" };
}

/** Inverse of parseArg. */
export function formatArg(arg: Arg): string {
  if (arg.kind === "word") return arg.value;
  return `${arg.dashes}${arg.name}${arg.value === undefined ? "" : `=${arg.value}`}`;
}

function fail(file: string, what: string): never {
  throw new KubehaError(`${file}: ${what}`);
}

function stringList(value: unknown, file: string, field: string): string[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) fail(file, `${field} is not a list`);
  return value.map((v, i) => {
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      fail(file, `${field}[${i}] is not a string`);
    }
    return String(v);
  });
}

function stringMap(value: unknown, file: string, field: string): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) fail(file, `${field} is not a map`);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = String(v);
  return out;
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The tag of an image reference (`registry.k8s.io/etcd:3.5.15-0@sha256:...` → `3.5.15-0`). */
export function imageTag(image: string): string | undefined {
  const noDigest = image.split("@")[0] ?? image;
  const lastSlash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  return colon > lastSlash ? noDigest.slice(colon + 1) : undefined;
}

/**
 * Parse a static pod manifest. `file` names it in errors. Throws a KubehaError naming the file and
 * the missing or malformed field.
 */
export function parseManifest(text: string, file: string): StaticPodManifest {
  const doc = parseDocument(text, { prettyErrors: false });
  if (doc.errors.length > 0) fail(file, `not valid YAML: ${doc.errors[0]?.message.split("\n")[0] ?? ""}`);
  const root = asRecord(doc.toJS());
  if (!root) fail(file, "is empty or not a YAML map");
  if (root.kind !== "Pod") fail(file, `kind is ${JSON.stringify(root.kind)}, expected Pod`);
  const metadata = asRecord(root.metadata) ?? fail(file, "metadata is missing");
  if (typeof metadata.name !== "string" || metadata.name === "") fail(file, "metadata.name is missing");
  const spec = asRecord(root.spec) ?? fail(file, "spec is missing");
  if (!Array.isArray(spec.containers) || spec.containers.length === 0)
    fail(file, "spec.containers is missing");
  const containers = spec.containers as unknown[];
  let index = containers.findIndex((c) => asRecord(c)?.name === metadata.name);
  if (index < 0) index = 0;
  const c = asRecord(containers[index]) ?? fail(file, `spec.containers[${index}] is not a map`);
  const where = `spec.containers[${index}]`;
  if (typeof c.image !== "string" || c.image === "") fail(file, `${where}.image is missing`);
  const command = stringList(c.command, file, `${where}.command`);
  const args = stringList(c.args, file, `${where}.args`);
  if (command.length + args.length === 0) fail(file, `${where}.command is missing`);

  const probes: Partial<Record<ProbeKind, HttpProbe>> = {};
  for (const kind of PROBE_KINDS) {
    const httpGet = asRecord(asRecord(c[kind])?.httpGet);
    if (!httpGet) continue;
    if (typeof httpGet.port !== "number" && typeof httpGet.port !== "string") {
      fail(file, `${where}.${kind}.httpGet.port is missing`);
    }
    const probe: HttpProbe = { port: httpGet.port };
    if (typeof httpGet.host === "string") probe.host = httpGet.host;
    if (typeof httpGet.path === "string") probe.path = httpGet.path;
    if (typeof httpGet.scheme === "string") probe.scheme = httpGet.scheme;
    probes[kind] = probe;
  }

  const volumes = (Array.isArray(spec.volumes) ? spec.volumes : []).map((v: unknown, i: number) => {
    const r = asRecord(v);
    if (!r || typeof r.name !== "string") fail(file, `spec.volumes[${i}].name is missing`);
    return r as HostPathVolume;
  });
  const volumeMounts = (Array.isArray(c.volumeMounts) ? c.volumeMounts : []).map((v: unknown, i: number) => {
    const r = asRecord(v);
    if (!r || typeof r.name !== "string") fail(file, `${where}.volumeMounts[${i}].name is missing`);
    if (typeof r.mountPath !== "string") fail(file, `${where}.volumeMounts[${i}].mountPath is missing`);
    return r as VolumeMount;
  });

  return {
    file,
    podName: metadata.name,
    namespace: typeof metadata.namespace === "string" ? metadata.namespace : undefined,
    containerName: typeof c.name === "string" ? c.name : metadata.name,
    image: c.image,
    version: imageTag(c.image),
    argv: [...command, ...args].map(parseArg),
    argsStart: c.args === undefined || c.args === null ? undefined : command.length,
    probes,
    volumes,
    volumeMounts,
    resources: asRecord(c.resources) ?? {},
    annotations: stringMap(metadata.annotations, file, "metadata.annotations"),
    labels: stringMap(metadata.labels, file, "metadata.labels"),
    doc,
    containerIndex: index,
  };
}

function bareName(name: string): string {
  return name.replace(/^--?/, "");
}

/** The effective value of a flag (its last occurrence, as the Go flag parser sees it); undefined when absent. */
export function getFlag(m: StaticPodManifest, name: string): string | undefined {
  return getFlagAll(m, name).at(-1);
}

/** True when the flag is present (with or without a value). */
export function hasFlag(m: StaticPodManifest, name: string): boolean {
  const n = bareName(name);
  return m.argv.some((a) => a.kind === "flag" && a.name === n);
}

/** Every value a repeated flag was given, in order (a flag without `=value` gives ""). */
export function getFlagAll(m: StaticPodManifest, name: string): string[] {
  const n = bareName(name);
  return m.argv.flatMap((a) => (a.kind === "flag" && a.name === n ? [a.value ?? ""] : []));
}

/**
 * Set a flag: the first occurrence is replaced in place (later repeats removed, since one value is
 * meant), or it is appended at the end of the command line when absent.
 */
export function setFlag(m: StaticPodManifest, name: string, value: string): void {
  const n = bareName(name);
  const first = m.argv.findIndex((a) => a.kind === "flag" && a.name === n);
  if (first < 0) {
    m.argv.push({ kind: "flag", name: n, value, dashes: "--" });
    return;
  }
  const existing = m.argv[first];
  const dashes = existing?.kind === "flag" ? existing.dashes : "--";
  m.argv[first] = { kind: "flag", name: n, value, dashes };
  for (let i = m.argv.length - 1; i > first; i--) {
    const a = m.argv[i];
    if (a?.kind === "flag" && a.name === n) removeAt(m, i);
  }
}

/** Remove every occurrence of a flag; returns how many were removed. */
export function deleteFlag(m: StaticPodManifest, name: string): number {
  const n = bareName(name);
  let removed = 0;
  for (let i = m.argv.length - 1; i >= 0; i--) {
    const a = m.argv[i];
    if (a?.kind === "flag" && a.name === n) {
      removeAt(m, i);
      removed++;
    }
  }
  return removed;
}

function removeAt(m: StaticPodManifest, i: number): void {
  m.argv.splice(i, 1);
  if (m.argsStart !== undefined && i < m.argsStart) m.argsStart--;
}

/** The command line as strings (command then args). */
export function argvStrings(m: StaticPodManifest): string[] {
  return m.argv.map(formatArg);
}

/** A deep copy of a model (the document is shared; it is never mutated). */
export function cloneManifest(m: StaticPodManifest): StaticPodManifest {
  return {
    ...m,
    argv: m.argv.map((a) => ({ ...a })),
    probes: structuredClone(m.probes),
    volumes: structuredClone(m.volumes),
    volumeMounts: structuredClone(m.volumeMounts),
    resources: structuredClone(m.resources),
    annotations: { ...m.annotations },
    labels: { ...m.labels },
  };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function jsAt(doc: Document, path: (string | number)[]): unknown {
  const value = doc.getIn(path);
  return isMap(value) || isSeq(value) ? value.toJSON() : value;
}

/** Set a string map field key by key, so that existing keys keep their place and comments. */
function setStringMap(doc: Document, path: (string | number)[], wanted: Record<string, string>): void {
  const current = (jsAt(doc, path) ?? {}) as Record<string, unknown>;
  if (same(current, wanted)) return;
  if (Object.keys(wanted).length === 0) {
    doc.deleteIn(path);
    return;
  }
  for (const key of Object.keys(current)) if (!(key in wanted)) doc.deleteIn([...path, key]);
  for (const [key, value] of Object.entries(wanted)) {
    if (current[key] !== value) doc.setIn([...path, key], value);
  }
}

/**
 * Write the model as YAML in kubeadm's layout (sequences not indented under their key). Only fields
 * the model changed are rewritten; everything else (comments, order, fields the model does not know)
 * is kept from the parsed document.
 */
export function serializeManifest(m: StaticPodManifest): string {
  const doc = m.doc.clone();
  const c: (string | number)[] = ["spec", "containers", m.containerIndex];
  const words = argvStrings(m);
  const split = m.argsStart ?? words.length;
  const command = words.slice(0, split);
  const args = words.slice(split);
  if (!same(jsAt(doc, [...c, "command"]) ?? [], command)) {
    if (command.length > 0) doc.setIn([...c, "command"], command);
    else doc.deleteIn([...c, "command"]);
  }
  if (m.argsStart !== undefined && !same(jsAt(doc, [...c, "args"]) ?? [], args))
    doc.setIn([...c, "args"], args);
  if (doc.getIn([...c, "image"]) !== m.image) doc.setIn([...c, "image"], m.image);
  setStringMap(doc, ["metadata", "annotations"], m.annotations);
  setStringMap(doc, ["metadata", "labels"], m.labels);
  for (const kind of PROBE_KINDS) {
    const probe = m.probes[kind];
    if (!probe) continue;
    const p = [...c, kind, "httpGet"];
    for (const field of ["host", "port", "path", "scheme"] as const) {
      const value = probe[field];
      if (value === undefined) {
        if (doc.hasIn([...p, field])) doc.deleteIn([...p, field]);
      } else if (doc.getIn([...p, field]) !== value) {
        doc.setIn([...p, field], value);
      }
    }
  }
  if (!same(jsAt(doc, ["spec", "volumes"]) ?? [], m.volumes)) doc.setIn(["spec", "volumes"], m.volumes);
  if (!same(jsAt(doc, [...c, "volumeMounts"]) ?? [], m.volumeMounts))
    doc.setIn([...c, "volumeMounts"], m.volumeMounts);
  if (!same(jsAt(doc, [...c, "resources"]) ?? {}, m.resources)) doc.setIn([...c, "resources"], m.resources);
  return doc.toString({ indentSeq: false, lineWidth: 0 });
}
