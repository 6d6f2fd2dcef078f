/**
 * The kubelet stand-in's static pods: turns a manifest into a process (real etcd, or one of the
 * lab's stand-ins), and keeps it running like the kubelet does: restart on exit with back-off,
 * restart on manifest change, stop on removal; one log file per container, one state file per pod.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, renameSync, writeFileSync, writeSync } from "node:fs";
import { constants } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";

/** Starts the kubelet stand-in's log line when two manifest files define the same pod; tests look for it. */
export const DUPLICATE_POD_ERROR = "ERROR duplicate static pod";

export interface PodSpec {
  pod: string;
  /** metadata.namespace, "default" when absent (as the kubelet has it): with the name, the pod's identity. */
  namespace: string;
  container: string;
  image: string;
  argv: string[];
  env: Record<string, string>;
  hash: string;
}

export interface Launchers {
  etcd: string;
  /** Directory of the compiled stand-ins (dist/test/lab). */
  standins: string;
  /**
   * The cache scripts/build-kubernetes.sh fills: when set, every container runs the real binary of
   * its image's name and version from there, never a stand-in.
   */
  real?: string;
}

interface ContainerYaml {
  name?: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: { name: string; value?: string }[];
}

/** Parses a static pod manifest; throws with the reason when it is not a usable Pod. */
export function parseManifest(text: string, launchers: Launchers): PodSpec {
  const doc = parse(text) as {
    kind?: string;
    metadata?: { name?: string; namespace?: string };
    spec?: { containers?: ContainerYaml[] };
  };
  if (doc?.kind !== "Pod") throw new Error(`kind is ${doc?.kind ?? "missing"}, not Pod`);
  const pod = doc.metadata?.name;
  const c = doc.spec?.containers?.[0];
  if (!pod || !c?.name) throw new Error("metadata.name or the first container's name is missing");
  const command = [...(c.command ?? []), ...(c.args ?? [])].map(String);
  if (!command[0]) throw new Error(`container ${c.name} has no command`);
  const image = c.image ?? "";
  // The image tag is the component's version (registry.k8s.io/kube-apiserver:v1.31.2 -> 1.31.2).
  const tag = /:v?([^:/@]+)$/.exec(image)?.[1] ?? "";
  const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? ""]));
  return {
    pod,
    namespace: doc.metadata?.namespace || "default",
    container: c.name,
    image,
    argv: launchers.real ? realLaunch(image, command, launchers.real) : launch(command, launchers),
    env: { ...env, KUBE_VERSION: tag },
    hash: createHash("sha256").update(text).digest("hex"),
  };
}

/**
 * registry.k8s.io/kube-apiserver:v1.37.2 -> <cache>/kubernetes-v1.37.2/bin/kube-apiserver;
 * registry.k8s.io/etcd:3.7.0-0 -> <cache>/etcd-v3.7.0/bin/etcd (the -0 is the image's own revision).
 */
export function realBinary(image: string, cache: string): string {
  const m = /(?:^|\/)([a-z0-9-]+):v?(\d+\.\d+\.\d+)(?:-\d+)?$/.exec(image);
  if (!m) throw new Error(`image ${image || "(none)"} names no component and version`);
  const [, name, version] = m as unknown as [string, string, string];
  const dir = name === "etcd" ? `etcd-v${version}` : `kubernetes-v${version}`;
  const bin = join(cache, dir, "bin", name);
  if (!existsSync(bin))
    throw new Error(`image ${image}: ${bin} is missing (run scripts/build-kubernetes.sh)`);
  return bin;
}

function realLaunch(image: string, command: string[], cache: string): string[] {
  const [, ...args] = command as [string, ...string[]];
  return [realBinary(image, cache), ...args];
}

function launch(command: string[], l: Launchers): string[] {
  const [bin, ...args] = command as [string, ...string[]];
  const name = bin.split("/").pop();
  if (name === "etcd") return [l.etcd, ...args];
  if (name === "kube-apiserver") return [process.execPath, join(l.standins, "apiserver.js"), ...args];
  if (name === "kube-controller-manager" || name === "kube-scheduler")
    return [process.execPath, join(l.standins, "component.js"), name, ...args];
  throw new Error(`no stand-in for command ${bin}`);
}

export interface PodDirs {
  state: string;
  logs: string;
  node: string;
}

export interface PodState {
  pod: string;
  container: string;
  pid: number | null;
  state: "running" | "exited" | "waiting";
  restarts: number;
  startedAt: string | null;
  exitCode: number | null;
  manifestHash: string;
  logPath: string;
  id: string;
  image: string;
  command: string[];
}

const STOP_GRACE_MS = 4000;
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 5000;
/** A container that ran this long is healthy again: its next crash starts the back-off over. */
const BACKOFF_RESET_MS = 10_000;

export class Pod {
  #spec: PodSpec | undefined;
  #child: ChildProcess | undefined;
  #state: PodState | undefined;
  #restarts = 0;
  #backoff = BACKOFF_MIN_MS;
  #timer: NodeJS.Timeout | undefined;
  #queue: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    private readonly dirs: PodDirs,
  ) {}

  /** The wanted spec (undefined: stop). Changes are applied in order, one at a time. */
  want(spec: PodSpec | undefined): Promise<void> {
    if (spec?.hash === this.#spec?.hash) return this.#queue;
    const changed = this.#spec !== undefined;
    this.#spec = spec;
    this.#queue = this.#queue.then(async () => {
      if (this.#spec !== spec) return; // superseded while queued
      await this.#stop();
      if (changed) this.#restarts = 0;
      if (spec) this.#start(spec);
    });
    return this.#queue;
  }

  get pid(): number | undefined {
    return this.#child?.exitCode === null ? this.#child.pid : undefined;
  }

  #start(spec: PodSpec): void {
    this.#backoff = this.#state?.manifestHash === spec.hash ? this.#backoff : BACKOFF_MIN_MS;
    const logPath = this.#logPath(spec);
    const fd = openSync(logPath, "a");
    writeSync(fd, `${new Date().toISOString()} kubelet-standin: starting ${spec.argv.join(" ")}\n`);
    const child = spawn(spec.argv[0]!, spec.argv.slice(1), {
      stdio: ["ignore", fd, fd],
      env: { ...process.env, ...spec.env },
    });
    closeSync(fd);
    const startedAt = Date.now();
    this.#child = child;
    this.#write({ spec, pid: child.pid ?? null, state: "running", exitCode: null, startedAt, logPath });
    let ended = false;
    const onEnd = (code: number): void => {
      if (ended) return;
      ended = true;
      if (this.#child === child) this.#child = undefined;
      this.#write({ spec, pid: null, state: "exited", exitCode: code, startedAt, logPath });
      if (this.#spec !== spec) return;
      if (Date.now() - startedAt > BACKOFF_RESET_MS) this.#backoff = BACKOFF_MIN_MS;
      console.log(`pod ${this.name}: exited with ${code}, restarting in ${this.#backoff} ms`);
      this.#write({ spec, pid: null, state: "waiting", exitCode: code, startedAt, logPath });
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        if (this.#spec !== spec) return;
        this.#restarts++;
        this.#start(spec);
      }, this.#backoff);
      this.#backoff = Math.min(this.#backoff * 2, BACKOFF_MAX_MS);
    };
    child.on("exit", (code, signal) => onEnd(code ?? 128 + (signal ? constants.signals[signal] : 0)));
    child.on("error", (err) => {
      console.log(`pod ${this.name}: ${err.message}`);
      onEnd(127);
    });
    console.log(`pod ${this.name}: started pid ${child.pid ?? "-"}`);
  }

  /** TERM, then KILL after a grace period; resolves when the process is gone. */
  async #stop(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((done) => child.once("exit", () => done()));
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
    await gone;
    clearTimeout(killer);
    console.log(`pod ${this.name}: stopped`);
  }

  #logPath(spec: PodSpec): string {
    // A stable uid-like part per pod and node, so a pod keeps its log directory across restarts.
    const h = createHash("md5").update(`${spec.pod}-${this.dirs.node}`).digest("hex");
    const uid = `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
    const dir = join(this.dirs.logs, `kube-system_${spec.pod}-${this.dirs.node}_${uid}`, spec.container);
    mkdirSync(dir, { recursive: true });
    return join(dir, "0.log");
  }

  #write(s: {
    spec: PodSpec;
    pid: number | null;
    state: PodState["state"];
    exitCode: number | null;
    startedAt: number;
    logPath: string;
  }): void {
    const id = s.state === "running" ? randomBytes(32).toString("hex") : (this.#state?.id ?? "");
    this.#state = {
      pod: s.spec.pod,
      container: s.spec.container,
      pid: s.pid,
      state: s.state,
      restarts: this.#restarts,
      startedAt: new Date(s.startedAt).toISOString(),
      exitCode: s.exitCode,
      manifestHash: s.spec.hash,
      logPath: s.logPath,
      id,
      image: s.spec.image,
      command: s.spec.argv,
    };
    writeState(this.dirs.state, this.#state);
  }
}

export function writeState(dir: string, s: PodState): void {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${s.pod}.json`);
  writeFileSync(`${file}.tmp`, JSON.stringify(s, null, 2) + "\n");
  renameSync(`${file}.tmp`, file);
}
