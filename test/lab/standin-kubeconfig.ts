/**
 * Reads a kubeconfig (current context, else the first) into TLS material, with inline `*-data` or
 * file paths, and makes HTTPS requests with it: what the kubelet and component stand-ins need.
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { dirname, resolve } from "node:path";
import { parse } from "yaml";

export interface KubeTarget {
  server: string;
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

type Named<T> = { name?: string } & T;
interface KubeconfigYaml {
  "current-context"?: string;
  clusters?: Named<{ cluster?: Record<string, string> }>[];
  users?: Named<{ user?: Record<string, string> }>[];
  contexts?: Named<{ context?: { cluster?: string; user?: string } }>[];
}

export function loadKubeconfig(path: string): KubeTarget {
  const doc = parse(readFileSync(path, "utf8")) as KubeconfigYaml | null;
  if (!doc) throw new Error(`${path}: empty kubeconfig`);
  const ctx =
    doc.contexts?.find((c) => c.name === doc["current-context"])?.context ?? doc.contexts?.[0]?.context;
  const cluster = (doc.clusters?.find((c) => c.name === ctx?.cluster) ?? doc.clusters?.[0])?.cluster;
  const user = (doc.users?.find((u) => u.name === ctx?.user) ?? doc.users?.[0])?.user;
  if (!cluster?.server) throw new Error(`${path}: no cluster server`);
  // Relative file paths in a kubeconfig are relative to the kubeconfig itself.
  const material = (fields: Record<string, string> | undefined, name: string): Buffer => {
    const inline = fields?.[`${name}-data`];
    if (inline) return Buffer.from(inline, "base64");
    const file = fields?.[name];
    if (file) return readFileSync(resolve(dirname(path), file));
    throw new Error(`${path}: no ${name} or ${name}-data`);
  };
  return {
    server: cluster.server,
    ca: material(cluster, "certificate-authority"),
    cert: material(user, "client-certificate"),
    key: material(user, "client-key"),
  };
}

export interface Reply {
  status: number;
  body: string;
}

/** A kubeconfig user with a bearer token (the kubelet's bootstrap-kubelet.conf). */
export interface TokenTarget {
  server: string;
  ca: Buffer;
  token: string;
}

/** The cluster and token of a kubeconfig whose user has a token. */
export function loadTokenKubeconfig(path: string): TokenTarget {
  const doc = parse(readFileSync(path, "utf8")) as KubeconfigYaml | null;
  const cluster = doc?.clusters?.[0]?.cluster;
  const token = doc?.users?.[0]?.user?.["token"];
  const ca = cluster?.["certificate-authority-data"];
  if (!cluster?.server || !token || !ca) throw new Error(`${path}: no server, CA data or token`);
  return { server: cluster.server, ca: Buffer.from(ca, "base64"), token };
}

export function kubeRequest(
  t: KubeTarget | TokenTarget,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
  timeoutMs = 3000,
): Promise<Reply> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((done, fail) => {
    const req = request(
      new URL(path, t.server),
      {
        method,
        ca: t.ca,
        ...("token" in t ? {} : { cert: t.cert, key: t.key }),
        timeout: timeoutMs,
        headers: {
          accept: "application/json",
          ...(text ? { "content-type": contentType } : {}),
          ...("token" in t ? { authorization: `Bearer ${t.token}` } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () =>
          done({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }),
        );
        res.on("error", fail);
      },
    );
    req.on("timeout", () =>
      req.destroy(new Error(`${method} ${t.server}${path}: timed out after ${timeoutMs} ms`)),
    );
    req.on("error", fail);
    req.end(text);
  });
}
