/**
 * The kubelet stand-in's node reporting: with a kubelet.conf, registers the Node (created when
 * absent, labels/addresses/nodeInfo reconciled) and posts a Ready heartbeat every 2 s. Without one
 * but with kubeadm's bootstrap-kubelet.conf, it first makes its kubelet.conf (kubelet-bootstrap.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { hostnameOverride, tlsBootstrap } from "./kubelet-bootstrap.js";
import { errorText } from "./standin-flags.js";
import { kubeRequest, loadKubeconfig, type KubeTarget } from "./standin-kubeconfig.js";

export interface HostInfo {
  name: string;
  address: string;
  kubeletVersion: string;
}

export function readHost(path: string): HostInfo {
  const h = JSON.parse(readFileSync(path, "utf8")) as Partial<HostInfo>;
  if (!h.name || !h.address) throw new Error(`${path}: name and address are required`);
  return { name: h.name, address: h.address, kubeletVersion: h.kubeletVersion ?? "v1.31.2" };
}

const HEARTBEAT_MS = 2000;

export class NodeReporter {
  #target: KubeTarget | undefined;
  #host: HostInfo;
  #registered = false;
  #timer: NodeJS.Timeout | undefined;
  /** Registration and heartbeats run one at a time. */
  #chain: Promise<unknown> = Promise.resolve();
  #ticking = false;

  constructor(
    private readonly kubeconfig: string,
    private readonly hostJson: string,
    private readonly rootDir: string,
  ) {
    this.#host = this.#readHost();
  }

  #readHost(): HostInfo {
    const h = readHost(this.hostJson);
    return { ...h, name: hostnameOverride(this.rootDir) ?? h.name };
  }

  get nodeName(): string {
    return this.#host.name;
  }

  /** (Re-)reads host.json and kubelet.conf and registers; resolves with a one-line outcome. */
  reload(): Promise<string> {
    this.#registered = false;
    return this.#run();
  }

  #run(): Promise<string> {
    const p = this.#chain.then(() => this.#tick());
    this.#chain = p;
    return p;
  }

  start(): void {
    this.#timer = setInterval(() => {
      if (this.#ticking) return;
      this.#ticking = true;
      void this.#run().finally(() => (this.#ticking = false));
    }, HEARTBEAT_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async #tick(): Promise<string> {
    try {
      if (!this.#registered) {
        this.#host = this.#readHost();
        if (!existsSync(this.kubeconfig)) {
          const bootstrap = join(dirname(this.kubeconfig), "bootstrap-kubelet.conf");
          if (!existsSync(bootstrap)) return `no ${this.kubeconfig}: not registering`;
          console.log(await tlsBootstrap(this.kubeconfig, bootstrap, this.rootDir, this.#host.name));
        }
        this.#target = loadKubeconfig(this.kubeconfig);
        await this.#register(this.#target);
        this.#registered = true;
        return `registered node ${this.#host.name} with ${this.#target.server}`;
      }
      const r = await this.#patchStatus(this.#target!, { conditions: conditions() });
      // The Node was deleted behind our back: register it again on the next tick, as the kubelet does.
      if (r === 404) this.#registered = false;
      return "heartbeat";
    } catch (err) {
      const msg = `node ${this.#host.name}: ${errorText(err)}`;
      console.log(msg);
      return msg;
    }
  }

  async #register(t: KubeTarget): Promise<void> {
    const h = this.#host;
    const path = `/api/v1/nodes/${h.name}`;
    const labels = {
      "kubernetes.io/hostname": h.name,
      "kubernetes.io/os": "linux",
      "kubernetes.io/arch": "amd64",
    };
    const got = await kubeRequest(t, "GET", path);
    if (got.status === 404) {
      const created = await kubeRequest(t, "POST", "/api/v1/nodes", {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name: h.name, labels },
        spec: {},
      });
      if (created.status !== 201 && created.status !== 409)
        throw new Error(`create Node: ${created.status} ${created.body}`);
    } else if (got.status === 200) {
      const patched = await kubeRequest(
        t,
        "PATCH",
        path,
        { metadata: { labels } },
        "application/merge-patch+json",
      );
      if (patched.status !== 200) throw new Error(`label Node: ${patched.status} ${patched.body}`);
    } else {
      throw new Error(`get Node: ${got.status} ${got.body}`);
    }
    const status = await this.#patchStatus(t, {
      addresses: [
        { type: "InternalIP", address: h.address },
        { type: "Hostname", address: h.name },
      ],
      nodeInfo: {
        kubeletVersion: h.kubeletVersion,
        kubeProxyVersion: h.kubeletVersion,
        containerRuntimeVersion: "containerd://1.7.22",
        operatingSystem: "linux",
        architecture: "amd64",
        osImage: "Debian GNU/Linux 12 (bookworm)",
      },
      conditions: conditions(),
    });
    if (status !== 200) throw new Error(`Node status: ${status}`);
  }

  async #patchStatus(t: KubeTarget, status: unknown): Promise<number> {
    const r = await kubeRequest(
      t,
      "PATCH",
      `/api/v1/nodes/${this.#host.name}/status`,
      { status },
      "application/merge-patch+json",
    );
    if (r.status !== 200 && r.status !== 404)
      throw new Error(`PATCH Node status: ${r.status} ${r.body.slice(0, 200)}`);
    return r.status;
  }
}

const stamp = (d: Date): string => d.toISOString().replace(/\.\d+Z$/, "Z");
/** The conditions never change in the lab: they have been what they are since the stand-in started. */
const since = stamp(new Date());

function conditions(): unknown[] {
  const now = stamp(new Date());
  const c = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: since,
  });
  return [
    c("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    c("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    c("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    c("Ready", "True", "KubeletReady", "kubelet is posting ready status (lab stand-in)"),
  ];
}
