/**
 * kubelet stand-in: `node dist/test/lab/kubelet.js [--manifests DIR] [--state-dir DIR] [--log-dir DIR]
 * [--host-json FILE] [--kubeconfig FILE] [--pid-file FILE]` (defaults: the real kubelet's paths).
 * Runs the static pods of /etc/kubernetes/manifests as the kubelet does (etcd: the real binary with the
 * manifest's arguments; kube-apiserver, controller-manager, scheduler: the lab's stand-ins), restarts
 * them when they exit or their manifest changes, stops them when it is removed; registers the Node
 * and heartbeats through kubelet.conf. SIGHUP = "systemctl restart kubelet": pods keep running.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from "node:fs";
import { request } from "node:https";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { parseKubeconfig, type Material } from "../../src/pki/kubeconfig.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : def;
};
const manifestsDir = opt("manifests", "/etc/kubernetes/manifests");
const stateDir = opt("state-dir", "/var/lib/kubelet/standin");
const logDir = opt("log-dir", "/var/log/pods");
const hostJson = opt("host-json", "/etc/kubeha-lab/host.json");
const kubeconfigFile = opt("kubeconfig", "/etc/kubernetes/kubelet.conf");
const pidFile = opt("pid-file", "/run/kubelet-standin.pid");
const here = dirname(fileURLToPath(import.meta.url));

interface HostInfo {
  name: string;
  address: string;
  kubeletVersion: string;
}
const readHost = (): HostInfo => JSON.parse(readFileSync(hostJson, "utf8")) as HostInfo;
let host = readHost();

function log(message: string): void {
  console.log(`${new Date().toISOString()} ${message}`);
}

interface Pod {
  file: string;
  name: string;
  hash: string;
  command: string[];
  env: Record<string, string>;
  logPath: string;
  child?: ChildProcess;
  restarts: number;
  backoffMs: number;
  timer?: NodeJS.Timeout;
  removed: boolean;
  exitCode?: number | null;
  startedAt?: string;
}

const pods = new Map<string, Pod>();

/** The program that stands in for a container image's entrypoint. */
function resolveCommand(argv: string[]): string[] | undefined {
  const [cmd, ...rest] = argv;
  if (cmd === "etcd") return ["/usr/bin/etcd", ...rest];
  if (cmd === "kube-apiserver") return [process.execPath, join(here, "apiserver.js"), ...rest];
  if (cmd === "kube-controller-manager" || cmd === "kube-scheduler") {
    return [process.execPath, join(here, "component.js"), cmd, ...rest];
  }
  return undefined;
}

function saveState(p: Pod): void {
  mkdirSync(stateDir, { recursive: true });
  const state = {
    pod: p.name,
    container: p.name.replace(`-${host.name}`, ""),
    id: createHash("sha256").update(`${p.name}/${p.hash}/${p.restarts}`).digest("hex").slice(0, 13),
    pid: p.child?.pid,
    state: p.child && p.child.exitCode === null ? "running" : p.removed ? "removed" : "exited",
    restarts: p.restarts,
    startedAt: p.startedAt,
    exitCode: p.exitCode,
    manifestHash: p.hash,
    logPath: p.logPath,
  };
  writeFileSync(join(stateDir, `${p.name}.json`), JSON.stringify(state, null, 2));
}

function start(p: Pod): void {
  mkdirSync(dirname(p.logPath), { recursive: true });
  const fd = openSync(p.logPath, "a");
  const [cmd, ...rest] = p.command;
  const child = spawn(cmd!, rest, { stdio: ["ignore", fd, fd], env: { ...process.env, ...p.env } });
  closeSync(fd);
  p.child = child;
  p.startedAt = new Date().toISOString();
  p.exitCode = undefined;
  log(`started ${p.name} (pid ${child.pid})`);
  saveState(p);
  child.on("exit", (code, signal) => {
    p.exitCode = code;
    log(`${p.name} (pid ${child.pid}) exited ${code ?? signal}`);
    saveState(p);
    if (p.child !== child || p.removed) return;
    p.restarts++;
    p.timer = setTimeout(() => {
      if (!p.removed && p.child === child) start(p);
    }, p.backoffMs);
    p.backoffMs = Math.min(5000, p.backoffMs * 2);
  });
}

function stop(p: Pod): Promise<void> {
  clearTimeout(p.timer);
  const child = p.child;
  p.child = undefined;
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 5000);
    child.once("exit", () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

function parsePod(file: string, text: string): Omit<Pod, "restarts" | "backoffMs" | "removed"> | undefined {
  let doc: {
    kind?: string;
    metadata?: { name?: string };
    spec?: { containers?: { image?: string; command?: string[]; args?: string[] }[] };
  };
  try {
    doc = parse(text) as typeof doc;
  } catch (err) {
    log(`${file}: not valid YAML: ${(err as Error).message}`);
    return undefined;
  }
  const c = doc?.spec?.containers?.[0];
  if (doc?.kind !== "Pod" || !doc.metadata?.name || !c) {
    log(`${file}: not a static pod manifest`);
    return undefined;
  }
  const command = resolveCommand([...(c.command ?? []), ...(c.args ?? [])]);
  if (!command) {
    log(`${file}: no stand-in for command ${JSON.stringify(c.command?.[0])}`);
    return undefined;
  }
  const name = `${doc.metadata.name}-${host.name}`;
  const tag = /:v?([^:@/]+)$/.exec(c.image ?? "")?.[1] ?? "";
  return {
    file,
    name,
    hash: createHash("sha256").update(text).digest("hex"),
    command,
    env: { KUBE_VERSION: tag },
    logPath: join(logDir, `kube-system_${name}`, doc.metadata.name, "0.log"),
  };
}

let syncing = false;
async function sync(): Promise<void> {
  if (syncing) return;
  syncing = true;
  try {
    const files = existsSync(manifestsDir)
      ? readdirSync(manifestsDir).filter((f) => !f.startsWith(".") && /\.(ya?ml|json)$/.test(f))
      : [];
    const seen = new Set<string>();
    for (const f of files) {
      let text: string;
      try {
        text = readFileSync(join(manifestsDir, f), "utf8");
      } catch {
        continue;
      }
      const hash = createHash("sha256").update(text).digest("hex");
      seen.add(f);
      const existing = pods.get(f);
      if (existing && existing.hash === hash) continue;
      const parsed = parsePod(f, text);
      if (existing) {
        log(`${f} changed: restarting ${existing.name}`);
        existing.removed = true;
        await stop(existing);
        pods.delete(f);
      }
      if (!parsed) continue;
      const pod: Pod = { ...parsed, restarts: 0, backoffMs: 500, removed: false };
      pods.set(f, pod);
      start(pod);
    }
    for (const [f, p] of pods) {
      if (seen.has(f)) continue;
      log(`${f} removed: stopping ${p.name}`);
      p.removed = true;
      await stop(p);
      saveState(p);
      pods.delete(f);
    }
  } finally {
    syncing = false;
  }
}

// ---- the Node, through kubelet.conf ----

interface Api {
  url: URL;
  tls: { ca?: string; cert: string; key: string };
}

function readApi(): Api | undefined {
  if (!existsSync(kubeconfigFile)) return undefined;
  try {
    const k = parseKubeconfig(readFileSync(kubeconfigFile, "utf8"), { file: kubeconfigFile });
    const pem = (m: Material | undefined) => (m ? (m.pem ?? readFileSync(m.file, "utf8")) : undefined);
    const cert = pem(k.clientCert);
    const key = pem(k.clientKey);
    if (!cert || !key) return undefined;
    return { url: new URL(k.server), tls: { ca: pem(k.ca), cert, key } };
  } catch (err) {
    log(`kubelet.conf: ${(err as Error).message}`);
    return undefined;
  }
}

function call(
  api: Api,
  method: string,
  path: string,
  body?: unknown,
  type = "application/json",
): Promise<{ code: number; text: string }> {
  const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: api.url.hostname.replace(/^\[|\]$/g, ""),
        port: api.url.port || 443,
        method,
        path,
        ...api.tls,
        agent: false,
        timeout: 3000,
        headers: payload ? { "content-type": type, "content-length": payload.length } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ code: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timed out")));
    req.on("error", reject);
    req.end(payload);
  });
}

function readyCondition(): Record<string, string> {
  const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
  return {
    type: "Ready",
    status: "True",
    reason: "KubeletReady",
    message: "kubelet stand-in is posting ready status",
    lastHeartbeatTime: now,
    lastTransitionTime: now,
  };
}

let api = readApi();
let registered = false;
async function heartbeat(): Promise<void> {
  if (!api) return;
  try {
    const path = `/api/v1/nodes/${host.name}`;
    if (!registered) {
      const got = await call(api, "GET", path);
      if (got.code === 404) {
        const node = {
          apiVersion: "v1",
          kind: "Node",
          metadata: {
            name: host.name,
            labels: {
              "kubernetes.io/hostname": host.name,
              "kubernetes.io/os": "linux",
              "kubernetes.io/arch": "amd64",
            },
          },
          spec: {},
          status: {
            nodeInfo: { kubeletVersion: host.kubeletVersion, containerRuntimeVersion: "containerd://1.7.22" },
            addresses: [
              { type: "InternalIP", address: host.address },
              { type: "Hostname", address: host.name },
            ],
            conditions: [readyCondition()],
          },
        };
        const made = await call(api, "POST", "/api/v1/nodes", node);
        if (made.code !== 201 && made.code !== 409)
          throw new Error(`register node: HTTP ${made.code} ${made.text}`);
        log(`registered node ${host.name} with ${api.url.host}`);
      } else if (got.code !== 200) {
        throw new Error(`get node: HTTP ${got.code}`);
      }
      registered = true;
    }
    const patch = {
      status: {
        conditions: [readyCondition()],
        nodeInfo: { kubeletVersion: host.kubeletVersion, containerRuntimeVersion: "containerd://1.7.22" },
      },
    };
    const r = await call(api, "PATCH", `${path}/status`, patch, "application/merge-patch+json");
    if (r.code !== 200) throw new Error(`heartbeat: HTTP ${r.code} ${r.text.slice(0, 200)}`);
  } catch (err) {
    log(`node status to ${api.url.host}: ${(err as Error).message}`);
  }
}

// ---- lifecycle ----

mkdirSync(dirname(pidFile), { recursive: true });
writeFileSync(pidFile, `${process.pid}\n`);
log(`kubelet stand-in for ${host.name} (${host.kubeletVersion}) watching ${manifestsDir}`);
const syncTimer = setInterval(() => void sync(), 300);
const beatTimer = setInterval(() => void heartbeat(), 2000);
void sync();
void heartbeat();

process.on("SIGHUP", () => {
  host = readHost();
  api = readApi();
  registered = false;
  log(`restarted (SIGHUP): kubelet.conf ${api ? `points at ${api.url.host}` : "absent"}`);
  void heartbeat().then(() =>
    writeFileSync(join(dirname(pidFile), "kubelet-standin.restarted"), new Date().toISOString()),
  );
});

async function shutdown(): Promise<void> {
  clearInterval(syncTimer);
  clearInterval(beatTimer);
  await Promise.all([...pods.values()].map((p) => ((p.removed = true), stop(p))));
  log("stopped every pod");
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown());
process.on("SIGINT", () => void shutdown());
