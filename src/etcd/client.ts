/**
 * One etcd3 client per endpoint, without etcd3's retries and circuit breaker, with a deadline on
 * every call. Membership changes and per-member checks must talk to one known member: etcd3's default
 * (a random host, retried through a circuit breaker) hides which member answered and can repeat a
 * non-idempotent call.
 */
// etcd3 is pinned to exactly 1.1.2 in package.json: rawUnary/rawStream below go through its
// protected `pool.withConnection` and its generated gRPC clients' method names (hashKv, snapshot),
// which are not public API and may change in any release; a new version must pass test/unit/etcd.test.ts
// before the pin moves. @grpc/grpc-js is declared (at the version etcd3 1.1.2 resolves) because its
// types are imported here, and cockatiel because its `noop` policy replaces etcd3's fault handling.
import type { CallOptions, Client, ClientReadableStream, Metadata, ServiceError } from "@grpc/grpc-js";
import { noop } from "cockatiel";
import { Etcd3 } from "etcd3";
import { KubehaError } from "../errors.js";

/** TLS material for an etcd client (PEM). Never logged. */
export interface EtcdTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

export interface EtcdClientOptions {
  /** Deadline of each unary call, in ms (default 5000). etcd3 ignores `dialTimeout`, so this is the only bound. */
  timeoutMs?: number;
}

export const defaultCallTimeoutMs = 5000;

/** Bytes etcd may send ahead of what was read, per connection and per stream. */
const FLOW_CONTROL_WINDOW = 8 * 1024 * 1024;

type ServiceName = "KV" | "Maintenance" | "Cluster";

/**
 * An etcd3 client bound to exactly one endpoint (e.g. `https://10.0.0.11:2379`), with no-op fault
 * handling and a deadline on every unary call. It is an `Etcd3`, so `get`/`put`/`cluster`/`maintenance` work.
 */
export class EtcdEndpointClient extends Etcd3 {
  readonly endpoint: string;
  readonly timeoutMs: number;
  /** Kept to open clients to other members (health checks); never printed. */
  readonly #tls: EtcdTls;

  constructor(endpoint: string, tls: EtcdTls, options: EtcdClientOptions = {}) {
    const timeoutMs = options.timeoutMs ?? defaultCallTimeoutMs;
    super({
      hosts: [endpoint],
      credentials: { rootCertificate: tls.ca, certChain: tls.cert, privateKey: tls.key },
      faultHandling: { host: () => noop, global: noop },
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
      grpcOptions: {
        // Fail fast on a dead endpoint rather than hanging in connection back-off.
        "grpc.initial_reconnect_backoff_ms": 200,
        "grpc.max_reconnect_backoff_ms": 1000,
        "grpc.max_receive_message_length": 64 * 1024 * 1024,
        // HTTP/2's default 64 KiB window makes a snapshot stream stall on every round trip and send
        // thousands of WINDOW_UPDATEs through the SSH forward: 93 MB took 2.1-2.5 s, with 8 MiB 0.65 s.
        "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW,
      },
    });
    this.endpoint = endpoint;
    this.timeoutMs = timeoutMs;
    this.#tls = tls;
  }

  /** Call options with a deadline `ms` from now (default: this client's timeout). */
  deadline(ms: number = this.timeoutMs): CallOptions {
    return { deadline: Date.now() + ms };
  }

  /** A new client to another endpoint with the same TLS material and timeout. */
  sibling(endpoint: string, options: EtcdClientOptions = {}): EtcdEndpointClient {
    return new EtcdEndpointClient(endpoint, this.#tls, { timeoutMs: options.timeoutMs ?? this.timeoutMs });
  }

  /**
   * Call a unary method of the generated gRPC client by its grpc-js name (e.g. `hashKv`, which
   * etcd3's `maintenance.hashKV()` cannot reach), with a deadline.
   */
  async rawUnary<T>(service: ServiceName, method: string, request: unknown, timeoutMs?: number): Promise<T> {
    return this.pool.withConnection(service, ({ client, metadata }) => {
      const fn = methodOf(client, method);
      return new Promise<T>((resolve, reject) => {
        fn.call(client, request, metadata, this.deadline(timeoutMs), (err: ServiceError | null, res: T) =>
          err ? reject(err) : resolve(res),
        );
      });
    });
  }

  /** Open a server-streaming call of the generated gRPC client (e.g. `snapshot`), with a deadline. */
  async rawStream<T>(
    service: ServiceName,
    method: string,
    request: unknown,
    timeoutMs: number,
  ): Promise<ClientReadableStream<T>> {
    return this.pool.withConnection(service, ({ client, metadata }) => {
      const fn = methodOf(client, method);
      return fn.call(client, request, metadata, this.deadline(timeoutMs)) as ClientReadableStream<T>;
    });
  }
}

function methodOf(client: Client, method: string): (...args: unknown[]) => unknown {
  const fn = (client as unknown as Record<string, unknown>)[method];
  if (typeof fn !== "function") throw new Error(`etcd client has no gRPC method ${method}`);
  return fn as (...args: unknown[]) => unknown;
}

export type { Metadata };

/** One client for one endpoint. Never pass a learner's endpoint for anything but status and serializable reads. */
export function connectEndpoint(
  endpoint: string,
  tls: EtcdTls,
  options: EtcdClientOptions = {},
): EtcdEndpointClient {
  return new EtcdEndpointClient(endpoint, tls, options);
}

/** Run `fn` with a client for `endpoint`, closing it afterwards whatever happens. */
export async function withEndpoint<T>(
  endpoint: string,
  tls: EtcdTls,
  fn: (client: EtcdEndpointClient) => Promise<T>,
  options: EtcdClientOptions = {},
): Promise<T> {
  const client = connectEndpoint(endpoint, tls, options);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** Close every client, ignoring errors from already-closed ones. */
export function closeAll(clients: Iterable<{ close(): void }>): void {
  for (const c of clients) {
    try {
      c.close();
    } catch {
      // already closed
    }
  }
}

/** The gRPC-level message of an etcd3/grpc error, one line. */
export function errorMessage(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s+/g, " ").trim();
}

/** `etcd <endpoint>: <what>: <cause>` as a KubehaError. */
export function etcdError(endpoint: string, what: string, err: unknown): KubehaError {
  return new KubehaError(`etcd ${endpoint}: ${what}: ${errorMessage(err)}`, undefined, { cause: err });
}
