/**
 * kubeconfig files: rendering one with embedded credentials (as kubeadm writes them), reading
 * one, and pointing one at another server while leaving every other byte as it was.
 */
import { posix } from "node:path";
import { isMap, isScalar, isSeq, parseDocument, Scalar, stringify, type Document } from "yaml";
import { InputError } from "../errors.js";

export const CLUSTER_NAME = "kubernetes";

export interface KubeconfigInput {
  /** https://host:port */
  server: string;
  caPem: string;
  /** The user name; also the certificate's CN in kubeadm's files. */
  user: string;
  clientCertPem: string;
  clientKeyPem: string;
  clusterName?: string;
}

/** Throws unless `url` is an https URL with a host; returns it normalised (no trailing slash). */
export function checkServerUrl(url: string, field = "server"): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new InputError(`${field}: ${JSON.stringify(url)} is not a URL such as https://10.0.0.20:6443`);
  }
  if (u.protocol !== "https:" || u.hostname === "") {
    throw new InputError(`${field}: ${JSON.stringify(url)} must be an https:// URL with a host`);
  }
  return url.replace(/\/+$/, "");
}

/** "https://<host>:<port>", with IPv6 hosts in brackets. */
export function serverUrl(host: string, port: number): string {
  return `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
}

const b64 = (s: string): string => Buffer.from(s, "utf8").toString("base64");

/** A kubeconfig in kubeadm's layout: cluster "kubernetes", context "<user>@kubernetes", data embedded. */
export function renderKubeconfig(input: KubeconfigInput): string {
  const cluster = input.clusterName ?? CLUSTER_NAME;
  const context = `${input.user}@${cluster}`;
  const doc = {
    apiVersion: "v1",
    clusters: [
      {
        cluster: { "certificate-authority-data": b64(input.caPem), server: checkServerUrl(input.server) },
        name: cluster,
      },
    ],
    contexts: [{ context: { cluster, user: input.user }, name: context }],
    "current-context": context,
    kind: "Config",
    preferences: {},
    users: [
      {
        name: input.user,
        user: {
          "client-certificate-data": b64(input.clientCertPem),
          "client-key-data": b64(input.clientKeyPem),
        },
      },
    ],
  };
  return stringify(doc, { lineWidth: 0, indentSeq: false });
}

/** Inline PEM, or a path to a file (resolved against the kubeconfig's directory when given). */
export type Material = { pem: string; file?: undefined } | { file: string; pem?: undefined };

export interface KubeconfigInfo {
  contextName?: string;
  clusterName: string;
  userName?: string;
  server: string;
  ca?: Material;
  clientCert?: Material;
  clientKey?: Material;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function namedEntry(list: unknown, name: string | undefined, kind: string, file: string): Obj | undefined {
  if (!Array.isArray(list)) return undefined;
  const entries = list.filter(isObj);
  const found =
    name === undefined
      ? entries.length === 1
        ? entries[0]
        : undefined
      : entries.find((e) => e.name === name);
  if (name !== undefined && !found)
    throw new InputError(`${file}: ${kind} ${JSON.stringify(name)} is not defined`);
  return found;
}

function material(
  obj: Obj,
  dataKey: string,
  fileKey: string,
  baseDir: string | undefined,
): Material | undefined {
  const data = obj[dataKey];
  if (typeof data === "string" && data.length > 0)
    return { pem: Buffer.from(data, "base64").toString("utf8") };
  const file = obj[fileKey];
  if (typeof file === "string" && file.length > 0)
    return { file: baseDir && !posix.isAbsolute(file) ? posix.resolve(baseDir, file) : file };
  return undefined;
}

/**
 * Reads a kubeconfig's current context (or its only one): server, CA and client credentials.
 * `file` names it in errors; relative paths inside are resolved against `baseDir`.
 */
export function parseKubeconfig(
  text: string,
  options: { file?: string; baseDir?: string } = {},
): KubeconfigInfo {
  const file = options.file ?? "kubeconfig";
  const doc = parseDocument(text);
  if (doc.errors.length > 0)
    throw new InputError(`${file}: not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
  const root: unknown = doc.toJS();
  if (!isObj(root)) throw new InputError(`${file}: not a kubeconfig (expected a mapping)`);
  const currentContext =
    typeof root["current-context"] === "string" && root["current-context"] !== ""
      ? root["current-context"]
      : undefined;
  const ctxEntry = namedEntry(root.contexts, currentContext, "context", file);
  const ctx = ctxEntry && isObj(ctxEntry.context) ? ctxEntry.context : undefined;
  const clusterName = typeof ctx?.cluster === "string" ? ctx.cluster : undefined;
  const userName = typeof ctx?.user === "string" ? ctx.user : undefined;
  const clusterEntry = namedEntry(root.clusters, clusterName, "cluster", file);
  const cluster = clusterEntry && isObj(clusterEntry.cluster) ? clusterEntry.cluster : undefined;
  if (!clusterEntry || !cluster) throw new InputError(`${file}: no cluster for the current context`);
  if (typeof cluster.server !== "string")
    throw new InputError(`${file}: cluster ${String(clusterEntry.name)} has no server`);
  const userEntry = namedEntry(root.users, userName, "user", file);
  const user = userEntry && isObj(userEntry.user) ? userEntry.user : undefined;
  return {
    contextName: typeof ctxEntry?.name === "string" ? ctxEntry.name : undefined,
    clusterName: String(clusterEntry.name),
    userName: typeof userEntry?.name === "string" ? userEntry.name : userName,
    server: cluster.server,
    ca: material(cluster, "certificate-authority-data", "certificate-authority", options.baseDir),
    clientCert: user
      ? material(user, "client-certificate-data", "client-certificate", options.baseDir)
      : undefined,
    clientKey: user ? material(user, "client-key-data", "client-key", options.baseDir) : undefined,
  };
}

/**
 * The same kubeconfig with `server:` of one cluster set to `url`: the current context's cluster
 * unless `cluster` names another. Only that scalar's text changes; comments, ordering, quoting
 * and indentation elsewhere are kept byte for byte.
 */
export function setServer(
  text: string,
  url: string,
  options: { cluster?: string; file?: string } = {},
): string {
  const file = options.file ?? "kubeconfig";
  const server = checkServerUrl(url);
  const doc: Document = parseDocument(text, { keepSourceTokens: true });
  if (doc.errors.length > 0)
    throw new InputError(`${file}: not valid YAML: ${doc.errors[0]!.message.split("\n")[0]}`);
  const info = parseKubeconfig(text, { file });
  const target = options.cluster ?? info.clusterName;

  const clusters = doc.get("clusters", true);
  if (!isSeq(clusters)) throw new InputError(`${file}: no clusters`);
  for (const item of clusters.items) {
    if (!isMap(item) || item.get("name") !== target) continue;
    const cluster = item.get("cluster", true);
    if (!isMap(cluster)) break;
    const node = cluster.get("server", true);
    if (!isScalar(node) || !node.range) break;
    const [start, valueEnd] = node.range;
    return text.slice(0, start) + quoteLike(node, server) + text.slice(valueEnd);
  }
  throw new InputError(`${file}: cluster ${JSON.stringify(target)} has no server to change`);
}

function quoteLike(node: Scalar, value: string): string {
  if (node.type === Scalar.QUOTE_DOUBLE) return JSON.stringify(value);
  if (node.type === Scalar.QUOTE_SINGLE) return `'${value.replaceAll("'", "''")}'`;
  return value;
}
