import { request, type Agent, type RequestOptions } from "node:https";
import {
  checkServerIdentity,
  createSecureContext,
  type ConnectionOptions,
  type PeerCertificate,
  type SecureContext,
} from "node:tls";
import { isIP } from "node:net";
import { KubehaError } from "../errors.js";

/** How to reach an apiserver: where to connect, and the name its certificate must be valid for. */
export interface KubeEndpoint {
  /** Host and port to open the TCP connection to (often a forwarded port on 127.0.0.1). */
  connectHost: string;
  connectPort: number;
  /** The address or DNS name the certificate must cover (the one a client would use). */
  serverName: string;
  ca: string;
  cert: string;
  key: string;
  /** For messages: "apiserver on master-1". */
  label: string;
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export class KubeApiError extends KubehaError {
  constructor(
    message: string,
    readonly status: number,
    readonly reason?: string,
  ) {
    super(message);
    this.name = "KubeApiError";
  }
}

/** Path of a namespaced or cluster-scoped object of the kinds kubeha edits. */
export function objectPath(
  resource: "configmaps" | "nodes" | "daemonsets",
  name: string,
  ns?: string,
): string {
  const group = resource === "daemonsets" ? "/apis/apps/v1" : "/api/v1";
  return ns ? `${group}/namespaces/${ns}/${resource}/${name}` : `${group}/${resource}/${name}`;
}

// One TLS context per set of credentials: every request opens its own connection (through a forward
// that may close), and parsing the PEM key and CA again for each cost more CPU than the handshake.
const contexts = new Map<string, SecureContext>();
function secureContextOf(e: KubeEndpoint): SecureContext {
  const id = `${e.ca}\0${e.cert}\0${e.key}`;
  let c = contexts.get(id);
  if (!c) contexts.set(id, (c = createSecureContext({ ca: e.ca, cert: e.cert, key: e.key })));
  return c;
}

/**
 * A small Kubernetes REST client: just get, update with optimistic concurrency, and patch.
 * kubeha talks to the API over a port forwarded through SSH, so nothing is needed on the hosts but
 * the apiserver itself; the certificate is still checked against the name a client would use.
 */
export class KubeClient {
  constructor(
    private readonly endpoint: KubeEndpoint,
    private readonly timeoutMs = 15_000,
    private readonly agent?: Agent,
  ) {}

  /** The apiserver's clock (its last Date header, to the second): what times in the cluster are set by. */
  serverDate?: Date;

  async get<T = KubeObject>(path: string): Promise<T> {
    return (await this.call("GET", path)) as T;
  }

  /** undefined on 404. */
  async getOptional<T = KubeObject>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** PUT with the object's resourceVersion: a concurrent change makes it fail with 409, never lose it. */
  async update<T extends KubeObject>(path: string, object: T): Promise<T> {
    if (!object.metadata.resourceVersion)
      throw new KubehaError(`update ${path}: object has no resourceVersion`);
    return (await this.call("PUT", path, object)) as T;
  }

  /** POST to a collection path ("/api/v1/namespaces/kube-system/configmaps"). */
  async create<T extends KubeObject>(collectionPath: string, object: T): Promise<T> {
    return (await this.call("POST", collectionPath, object)) as T;
  }

  /**
   * DELETE; false when it was already gone (404). With `preconditions`, only if the object still has
   * that resourceVersion/uid (else 409), so an object someone else changed is never removed.
   */
  async delete(path: string, preconditions?: { resourceVersion?: string; uid?: string }): Promise<boolean> {
    const options = preconditions && { kind: "DeleteOptions", apiVersion: "v1", preconditions };
    try {
      await this.call("DELETE", path, options);
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      throw err;
    }
  }

  async mergePatch<T = KubeObject>(path: string, patch: unknown): Promise<T> {
    return (await this.call("PATCH", path, patch, "application/merge-patch+json")) as T;
  }

  async raw(path: string): Promise<{ status: number; body: string }> {
    return this.send("GET", path);
  }

  private async call(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> {
    const { status, body: text } = await this.send(method, path, body, contentType);
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new KubeApiError(`${this.endpoint.label}: ${method} ${path}: HTTP ${status}, not JSON`, status);
    }
    if (status >= 400) {
      const s = parsed as { message?: string; reason?: string } | undefined;
      throw new KubeApiError(
        `${this.endpoint.label}: ${method} ${path}: HTTP ${status} ${s?.reason ?? ""}: ${s?.message ?? text.slice(0, 200)}`,
        status,
        s?.reason,
      );
    }
    return parsed;
  }

  private send(
    method: string,
    path: string,
    body?: unknown,
    contentType = "application/json",
  ): Promise<{ status: number; body: string }> {
    const e = this.endpoint;
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    // https passes the TLS options on to tls.connect, secureContext among them (not in its type).
    const options: RequestOptions & Pick<ConnectionOptions, "secureContext"> = {
      host: e.connectHost,
      port: e.connectPort,
      method,
      path,
      secureContext: secureContextOf(e),
      agent: this.agent ?? false,
      // The TCP peer is a forwarded port; the certificate must still hold the real name.
      servername: isIP(e.serverName) ? undefined : e.serverName,
      checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(e.serverName, cert),
      headers: {
        accept: "application/json",
        ...(payload ? { "content-type": contentType, "content-length": payload.length } : {}),
      },
      timeout: this.timeoutMs,
    };
    return new Promise((resolve, reject) => {
      const req = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const date = Date.parse(res.headers.date ?? "");
          if (!Number.isNaN(date)) this.serverDate = new Date(date);
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") });
        });
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`timed out after ${this.timeoutMs} ms`)));
      req.on("error", (err) =>
        reject(new KubehaError(`${e.label}: ${method} ${path}: ${err.message}`, undefined, { cause: err })),
      );
      req.end(payload);
    });
  }
}
