/**
 * Real etcd processes on 127.0.0.1 for tests: TLS material made by the `openssl` CLI, free ports,
 * data directories in a temporary directory, processes stopped by PID.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, openSync, closeSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { EtcdTls } from "../../src/etcd/client.js";
import { connectEndpoint } from "../../src/etcd/client.js";

const execFileP = promisify(execFile);

export const etcdBinary = process.env.KUBEHA_TEST_ETCD ?? "/usr/bin/etcd";
export const etcdctlBinary = process.env.KUBEHA_TEST_ETCDCTL ?? "/usr/bin/etcdctl";

/** Why the etcd tests cannot run here, or undefined when they can. */
export function etcdSkipReason(): string | undefined {
  if (!existsSync(etcdBinary))
    return `etcd not found at ${etcdBinary} (apt-get install etcd-server etcd-client, or set KUBEHA_TEST_ETCD)`;
  return undefined;
}

export interface EtcdTestPki {
  dir: string;
  caFile: string;
  /** Server and peer certificate (serverAuth+clientAuth, SAN 127.0.0.1/localhost), shared by all members. */
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  tls: EtcdTls;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await execFileP("openssl", args, { cwd });
}

/** A throwaway CA, one server/peer certificate and one client certificate (EC P-256). */
export async function makeEtcdTestPki(dir: string): Promise<EtcdTestPki> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  await openssl(
    ["req", "-x509", ...ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=etcd-test-ca"],
    dir,
  );
  await writeFile(
    join(dir, "server.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await writeFile(
    join(dir, "client.ext"),
    "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
  );
  for (const [name, cn] of [
    ["server", "etcd-test-server"],
    ["client", "kube-etcd-healthcheck-client"],
  ] as const) {
    await openssl(["req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`], dir);
    await openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        `${name}.crt`,
        "-days",
        "2",
        "-extfile",
        `${name}.ext`,
      ],
      dir,
    );
  }
  const f = (n: string) => join(dir, n);
  return {
    dir,
    caFile: f("ca.crt"),
    serverCertFile: f("server.crt"),
    serverKeyFile: f("server.key"),
    clientCertFile: f("client.crt"),
    clientKeyFile: f("client.key"),
    tls: {
      ca: await readFile(f("ca.crt")),
      cert: await readFile(f("client.crt")),
      key: await readFile(f("client.key")),
    },
  };
}

/** A free TCP port on 127.0.0.1 (released before returning; good enough for tests). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Where a member will live: name, URLs and data directory, before it is started. */
export interface EtcdNodeSpec {
  name: string;
  clientUrl: string;
  peerUrl: string;
  dataDir: string;
  logFile: string;
}

export interface EtcdNode extends EtcdNodeSpec {
  pid: number;
  /** Exit code/signal once the process has ended. */
  exited?: string;
  /** The last `lines` lines of the member's log. */
  logTail(lines?: number): string;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process is gone. */
  stop(): Promise<void>;
  /** Freeze (SIGSTOP) and thaw (SIGCONT) the process: a member that falls behind without dying. */
  pause(): void;
  resume(): void;
}

export class EtcdTestCluster {
  readonly nodes: EtcdNode[] = [];

  /** `--snapshot-count` of every member: low values make new members catch up from a raft snapshot. */
  snapshotCount = 10_000;

  private constructor(
    readonly baseDir: string,
    readonly pki: EtcdTestPki,
  ) {}

  /** A temporary directory with fresh TLS material. */
  static async create(): Promise<EtcdTestCluster> {
    const baseDir = await mkdtemp(join(tmpdir(), "kubeha-etcd-"));
    const pki = await makeEtcdTestPki(join(baseDir, "pki"));
    return new EtcdTestCluster(baseDir, pki);
  }

  get tls(): EtcdTls {
    return this.pki.tls;
  }

  /** Reserve ports and paths for a member named `name`. */
  async spec(name: string): Promise<EtcdNodeSpec> {
    const [cp, pp] = [await freePort(), await freePort()];
    return {
      name,
      clientUrl: `https://127.0.0.1:${cp}`,
      peerUrl: `https://127.0.0.1:${pp}`,
      dataDir: join(this.baseDir, `${name}.etcd`),
      logFile: join(this.baseDir, `${name}.log`),
    };
  }

  /** Start a new one-member cluster. */
  async startFirst(name: string): Promise<EtcdNode> {
    const spec = await this.spec(name);
    return this.start(spec, `${name}=${spec.peerUrl}`, "new");
  }

  /**
   * Start a member from `spec` with `initialCluster`; resolves once it answers status
   * (learners answer status too). Throws with its log tail if it exits or does not answer in time.
   */
  async start(
    spec: EtcdNodeSpec,
    initialCluster: string,
    state: "new" | "existing",
    readyTimeoutMs = 15_000,
  ): Promise<EtcdNode> {
    const p = this.pki;
    const args = [
      `--name=${spec.name}`,
      `--data-dir=${spec.dataDir}`,
      `--listen-client-urls=${spec.clientUrl}`,
      `--advertise-client-urls=${spec.clientUrl}`,
      `--listen-peer-urls=${spec.peerUrl}`,
      `--initial-advertise-peer-urls=${spec.peerUrl}`,
      `--initial-cluster=${initialCluster}`,
      `--initial-cluster-state=${state}`,
      `--initial-cluster-token=kubeha-test`,
      `--cert-file=${p.serverCertFile}`,
      `--key-file=${p.serverKeyFile}`,
      `--trusted-ca-file=${p.caFile}`,
      "--client-cert-auth=true",
      `--peer-cert-file=${p.serverCertFile}`,
      `--peer-key-file=${p.serverKeyFile}`,
      `--peer-trusted-ca-file=${p.caFile}`,
      "--peer-client-cert-auth=true",
      "--heartbeat-interval=50",
      "--election-timeout=500",
      `--snapshot-count=${this.snapshotCount}`,
      "--logger=zap",
      "--log-outputs=stderr",
    ];
    const fd = openSync(spec.logFile, "a");
    const child = spawn(etcdBinary, args, { stdio: ["ignore", fd, fd], detached: false });
    closeSync(fd);
    if (child.pid === undefined) throw new Error(`etcd ${spec.name}: could not spawn ${etcdBinary}`);
    const exitedP = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const node: EtcdNode = {
      ...spec,
      pid: child.pid,
      logTail: (lines = 20) => {
        try {
          return readFileSync(spec.logFile, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
        } catch {
          return "";
        }
      },
      pause: () => void process.kill(node.pid, "SIGSTOP"),
      resume: () => void process.kill(node.pid, "SIGCONT"),
      stop: async () => {
        if (node.exited) return;
        process.kill(node.pid, "SIGCONT");
        process.kill(node.pid, "SIGTERM");
        const t = setTimeout(() => {
          if (!node.exited) process.kill(node.pid, "SIGKILL");
        }, 5000);
        await exitedP;
        clearTimeout(t);
      },
    };
    child.once("exit", (code, signal) => {
      node.exited = signal ?? String(code);
    });
    this.nodes.push(node);
    await this.waitReady(node, readyTimeoutMs);
    return node;
  }

  private async waitReady(node: EtcdNode, timeoutMs: number): Promise<void> {
    const client = connectEndpoint(node.clientUrl, this.tls, { timeoutMs: 1000 });
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        if (node.exited !== undefined)
          throw new Error(`etcd ${node.name} exited (${node.exited}):\n${node.logTail()}`);
        try {
          await client.maintenance.status();
          return;
        } catch (err) {
          if (Date.now() > deadline)
            throw new Error(
              `etcd ${node.name} not answering after ${timeoutMs} ms: ${String(err)}\n${node.logTail()}`,
            );
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    } finally {
      client.close();
    }
  }

  /** `etcdctl` against `endpoint` with the test client certificate; returns stdout. */
  async etcdctl(endpoint: string, args: string[]): Promise<string> {
    const p = this.pki;
    const { stdout } = await execFileP(
      etcdctlBinary,
      [
        `--endpoints=${endpoint}`,
        `--cacert=${p.caFile}`,
        `--cert=${p.clientCertFile}`,
        `--key=${p.clientKeyFile}`,
        ...args,
      ],
      { env: { ...process.env, ETCDCTL_API: "3" }, timeout: 20_000 },
    );
    return stdout;
  }

  /** Stop every member this cluster started. */
  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop().catch(() => undefined)));
  }

  /** Stop everything and delete the temporary directory (keep it with KUBEHA_KEEP_ETCD=1). */
  async destroy(): Promise<void> {
    await this.stopAll();
    if (process.env.KUBEHA_KEEP_ETCD === "1") return;
    await rm(this.baseDir, { recursive: true, force: true });
  }
}
