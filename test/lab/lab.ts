// startLab(): a simulated kubeadm cluster (primary, new masters, LB, workers) in network
// namespaces on this machine, reached over real SSH from a workstation namespace.
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createNetwork, labNsName, randomSubnet } from "./netns.js";
import {
  ensureMountpoints,
  hostExec,
  prepareHost,
  REPO,
  startHost,
  startInHost,
  type LabHost,
  type LabRuntime,
} from "./hosts.js";
import { prepareSshd, prepareWorkstation, sshdArgv, writeKnownHosts } from "./sshd.js";
import { writeClusterFiles } from "./fixture.js";
import { clusterInfoKubeconfig } from "./fixture-kubeconfig.js";
import { bulkConfigMap, kubeadmObjects, referenceObjects } from "./fixture-objects.js";
import {
  initPrimary,
  initWorkers,
  labCache,
  REAL_VERSION,
  realBinaries,
  runApiPhases,
} from "./kubeadm-init.js";
import { controlPlaneImages, minor, type ClusterSpec } from "./fixture-spec.js";
import { LB_DNS_NAME, writeInventory } from "./inventory.js";
import { operatorStream } from "./external-lb.js";
import { destroy, LAB_DIR_STEM, saveState, type LabState } from "./teardown.js";
import { must, run, waitFor, type ExecResult } from "./proc.js";
import { STEM } from "./netns.js";

export type { LabHost, LabRole, LabRuntime } from "./hosts.js";
export type { ExecResult } from "./proc.js";

export interface LabOptions {
  /** Number of workers (default 2). */
  workers?: number;
  /** Clean hosts outside the inventory, master-4, master-5, ... (default 0). */
  spares?: number;
  /** Kubernetes version of the fixture, "1.24.17" or "1.31.2" (default). */
  version?: string;
  /**
   * "real": kubeadm v1.37.2 makes the primary and the real etcd and control plane run, from the
   * cache scripts/build-kubernetes.sh fills; default "standin" (openssl fixture, stand-ins).
   */
  kubernetes?: "standin" | "real";
  serviceCidr?: string;
  podCidr?: string;
  domain?: string;
  /** Old layout: etcd advertises https://localhost:2380, listens on loopback only. */
  etcdPeerLocalhost?: boolean;
  /** No pki/ca.key on the primary (kubeadm's external-CA mode). */
  externalCa?: boolean;
  /** The entry point (default: nginx on a host of its own, "lb"). */
  loadBalancer?: LabLoadBalancer;
  /** The LB's nginx has no stream module (neither the .so nor modules-enabled entry). */
  lbWithoutStream?: boolean;
  /** Host whose `kubeha` user needs a password for sudo (it becomes a kubeha host if it was root). */
  sudoAsksPassword?: string;
  /** `kubelet --version` per host name, e.g. {"master-2": "1.30.4"} (default: the cluster's version). */
  kubeletVersions?: Record<string, string>;
  /** The container runtime per host name (default: up, systemd cgroups, every image present). */
  runtimes?: Record<string, LabRuntime>;
  /** ConfigMaps of bulk data put into etcd (default 3000). */
  bulkKeys?: number;
  /** Progress lines (default: silent). */
  log?: (line: string) => void;
}

/**
 * The lab's entry point. nginx: host "lb" (or, onMaster, master-1 on port 8443). keepalived: hosts lb-1..lb-n
 * (or, onMasters, master-1..3 on port 8443) and a virtual address of the lab subnet (.30). external: host "lb" runs an nginx the operator owns
 * (kubeha never logs in to it), proxying to the primary only until the test adds the new masters.
 */
export interface LabLoadBalancer {
  mode?: "nginx" | "keepalived" | "external";
  /** keepalived: 2 (default) or 3 LB hosts. */
  hosts?: 2 | 3;
  /** nginx on master-1, port 8443 (the seed's layout). */
  onMaster?: boolean;
  /** keepalived: the LB hosts are master-1..3 themselves, port 8443 (no LB host of its own). */
  onMasters?: boolean;
}

/** The port of the LB on a master (the apiserver has 6443). */
export const LB_ON_MASTER_PORT = 8443;

/** What the starting cluster was built with, for comparing discovery against. */
export interface FixtureFacts {
  version: string;
  serviceCidr: string;
  podCidr: string;
  domain: string;
  etcdPeerLocalhost: boolean;
  externalCa: boolean;
  /** Host name -> address. */
  addresses: Record<string, string>;
  /** Keys the fixture put into etcd (kubeadm objects and bulk data) and their total size. */
  filledKeys: number;
  filledBytes: number;
}

export interface Lab {
  id: string;
  dir: string;
  hosts: LabHost[];
  primary: LabHost;
  masters: LabHost[];
  /** The first LB host (master-1 when the LB runs on it). */
  lb: LabHost;
  /** Every host running the entry point's nginx. */
  lbHosts: LabHost[];
  /** What clients use: the LB host's address, the virtual address, or the external LB's. */
  lbAddress: string;
  lbPort: number;
  workers: LabHost[];
  /** Hosts outside the inventory (LabOptions.spares). */
  spares: LabHost[];
  host(name: string): LabHost;
  /** The workstation namespace: run the tool as `ip netns exec <wsNs> node dist/src/cli.js ...`. */
  wsNs: string;
  wsAddress: string;
  lbDnsName: string;
  inventoryFile: string;
  identityFile: string;
  knownHostsFile: string;
  stateDir: string;
  /** The primary's admin.conf, readable from the workstation (it is a plain file in the lab dir). */
  adminKubeconfig: string;
  fixture: FixtureFacts;
  /** Runs argv inside a host's net+mount+UTS namespaces as root; never throws on exit status. */
  exec(host: string, argv: string[], opts?: { stdin?: string | Buffer }): Promise<ExecResult>;
  /** Runs argv in the workstation namespace. */
  wsExec(argv: string[], opts?: { stdin?: string | Buffer }): Promise<ExecResult>;
  /** Every PID the lab started. */
  pids(): readonly number[];
  /** Anchor PID of a host (for nsenter -t). */
  anchorPid(host: string): number;
  stop(): Promise<void>;
}

/** kubeha logs in as this user with sudo on these hosts; as root elsewhere. */
const SUDO_HOSTS = new Set(["master-1", "master-3", "worker-1"]);

function planHosts(
  prefix: string,
  dir: string,
  net: string,
  workers: number,
  lb: LabLoadBalancer,
  spares: number,
  sudoAsksPassword?: string,
): LabHost[] {
  const lbSpecs: [string, LabHost["role"], number][] =
    lb.mode === "keepalived" && !lb.onMasters
      ? Array.from({ length: lb.hosts ?? 2 }, (_, i) => [`lb-${i + 1}`, "loadBalancer", 21 + i])
      : lb.onMaster || lb.onMasters
        ? []
        : [["lb", "loadBalancer", 20]];
  const specs: [string, LabHost["role"], number][] = [
    ["master-1", "primary", 11],
    ["master-2", "master", 12],
    ["master-3", "master", 13],
    ...lbSpecs,
    ...Array.from({ length: workers }, (_, i): [string, LabHost["role"], number] => [
      `worker-${i + 1}`,
      "worker",
      31 + i,
    ]),
    ...Array.from({ length: spares }, (_, i): [string, LabHost["role"], number] => [
      `master-${i + 4}`,
      "spare",
      14 + i,
    ]),
  ];
  return specs.map(([name, role, octet]) => {
    const kubeha = SUDO_HOSTS.has(name) || name === sudoAsksPassword;
    return {
      name,
      role,
      address: `${net}.${octet}`,
      ns: `${prefix}${name}`,
      sshUser: kubeha ? "kubeha" : "root",
      sudo: kubeha,
      dir: join(dir, "h", name),
    };
  });
}

export async function startLab(opts: LabOptions = {}): Promise<Lab> {
  const log = opts.log ?? (() => undefined);
  const t0 = Date.now();
  const step = (m: string): void => log(`[lab +${((Date.now() - t0) / 1000).toFixed(1)}s] ${m}`);
  const kubeletJs = join(REPO, "dist/test/lab/kubelet.js");
  if (!existsSync(kubeletJs))
    throw new Error(`${kubeletJs} is missing: build first (npx tsc -p tsconfig.json)`);

  const id = randomBytes(3).toString("hex");
  const prefix = `${STEM}${id}-`;
  const dir = `${LAB_DIR_STEM}${id}`;
  const net = randomSubnet();
  const lbOpts = opts.loadBalancer ?? {};
  const hosts = planHosts(
    prefix,
    dir,
    net,
    opts.workers ?? 2,
    lbOpts,
    opts.spares ?? 0,
    opts.sudoAsksPassword,
  );
  const byName = new Map(hosts.map((h) => [h.name, h]));
  const get = (name: string): LabHost => {
    const h = byName.get(name);
    if (!h) throw new Error(`no lab host ${name}`);
    return h;
  };
  const primary = get("master-1");
  const lbHosts = lbOpts.onMaster
    ? [primary]
    : lbOpts.onMasters
      ? ["master-1", "master-2", "master-3"].map(get)
      : hosts.filter((h) => h.role === "loadBalancer");
  const lb = lbHosts[0]!;
  const runsNginx = (h: LabHost): boolean => lbHosts.includes(h);
  const lbAddress = lbOpts.mode === "keepalived" ? `${net}.30` : lb.address;
  const lbPort = lbOpts.onMaster || lbOpts.onMasters ? LB_ON_MASTER_PORT : 6443;
  const wsNs = `${prefix}ws`;
  const wsAddress = `${net}.100`;
  const etcNetnsWs = join("/etc/netns", wsNs);
  const state: LabState = {
    id,
    prefix,
    dir,
    namespaces: [labNsName(prefix), wsNs, ...hosts.map((h) => h.ns)],
    etcNetns: [etcNetnsWs],
    pids: [],
    ownerPid: process.pid,
  };
  const anchors = new Map<string, number>();
  const real = opts.kubernetes === "real";
  if (real && opts.version !== undefined && opts.version !== REAL_VERSION)
    throw new Error(`the real flavour runs Kubernetes ${REAL_VERSION}, not ${opts.version}`);
  const realBin = real ? realBinaries() : undefined; // missing binaries: refused before anything is created
  const spec: ClusterSpec = {
    version: opts.version ?? (real ? REAL_VERSION : "1.31.2"),
    serviceCidr: opts.serviceCidr ?? "10.96.0.0/12",
    podCidr: opts.podCidr ?? "10.244.0.0/16",
    domain: opts.domain ?? "cluster.local",
    primary: { name: primary.name, address: primary.address },
    workers: hosts.filter((h) => h.role === "worker").map((h) => ({ name: h.name, address: h.address })),
    etcdPeerLocalhost: opts.etcdPeerLocalhost ?? false,
    externalCa: opts.externalCa ?? false,
  };
  minor(spec.version); // rejects an unparseable version before anything is created

  const exec = (name: string, argv: string[], o: { stdin?: string | Buffer } = {}): Promise<ExecResult> => {
    const pid = anchors.get(name);
    if (pid === undefined) throw new Error(`lab host ${name} is not running`);
    return hostExec(pid, argv, o.stdin);
  };
  const stop = async (): Promise<void> => {
    await destroy(state, true);
    step("stopped");
  };

  await mkdir(dir, { recursive: true, mode: 0o755 });
  await saveState(state);
  try {
    await ensureMountpoints();
    const hostsFile = hosts.map((h) => `${h.address} ${h.name}`).join("\n") + "\n";
    await Promise.all(
      hosts.map((h) =>
        prepareHost(h, {
          hostsFile,
          sudoAsksPassword: h.name === opts.sudoAsksPassword,
          lbWithoutStream: opts.lbWithoutStream ?? false,
          nginx: runsNginx(h),
          kubeletVersion: `v${opts.kubeletVersions?.[h.name] ?? spec.version}`,
          runtime: opts.runtimes?.[h.name] ?? {},
          images: controlPlaneImages(spec.version),
        }),
      ),
    );
    const [ws] = await Promise.all([
      prepareWorkstation(dir),
      createNetwork(prefix, [
        ...hosts.map((h) => ({ ns: h.ns, address: h.address })),
        { ns: wsNs, address: wsAddress },
      ]),
      real
        ? undefined
        : writeClusterFiles(
            spec,
            nodeDirs(primary),
            hosts.filter((h) => h.role === "worker").map(nodeDirs),
            join(dir, "scratch"),
          ),
    ]);
    await Promise.all(hosts.map((h) => prepareSshd(h, ws.authorizedKeys)));
    step("network, PKI and host files ready");

    // The LB's DNS name resolves in the workstation (ip netns exec mounts this over /etc/hosts).
    await mkdir(etcNetnsWs, { recursive: true });
    await writeFile(
      join(etcNetnsWs, "hosts"),
      `127.0.0.1 localhost\n${lbAddress} ${LB_DNS_NAME}\n${hostsFile}`,
    );

    await Promise.all(
      hosts.map(async (h) => {
        const { anchor, child } = await startHost(h);
        anchors.set(h.name, anchor);
        state.pids.push(anchor, child);
        state.pids.push(startInHost(anchor, sshdArgv(h), join(h.dir, "ssh/sshd.out")));
        const kubelet = [process.execPath, kubeletJs, ...(real ? ["--real-binaries", labCache()] : [])];
        state.pids.push(startInHost(anchor, kubelet, join(h.dir, "kubelet.log")));
        if (runsNginx(h))
          state.pids.push(
            startInHost(anchor, ["/usr/sbin/nginx", "-g", "daemon off;"], join(h.dir, "nginx.out")),
          );
      }),
    );
    await saveState(state);
    step("hosts, sshd, kubelet stand-ins and nginx started");

    const inventoryFile = join(dir, "inventory.yaml");
    const stateDir = join(dir, "kubeha-state");
    await writeKnownHosts(hosts, ws.knownHostsFile);
    await writeInventory(inventoryFile, {
      hosts,
      identityFile: ws.identityFile,
      knownHostsFile: ws.knownHostsFile,
      stateDir,
      loadBalancer: { mode: lbOpts.mode ?? "nginx", address: lbAddress, port: lbPort, hosts: lbHosts },
    });
    if (lbOpts.mode === "external") await operatorStream(exec, lb.name, [primary.address]);

    let filled: { keys: number; bytes: number };
    if (realBin) {
      const primaryExec = (argv: string[]): Promise<ExecResult> => exec(primary.name, argv);
      await initPrimary(spec, primaryExec, realBin, join(primary.dir, "kubeadm.yaml"));
      await initWorkers(
        primaryExec,
        realBin,
        join(primary.dir, "kubeadm.yaml"),
        hosts.filter((h) => h.role === "worker").map(nodeDirs),
        join(primary.dir, "etc-kubernetes/pki/ca.crt"),
      );
      step(
        "kubeadm init phases certs, kubeconfig, etcd local, control-plane done; workers' kubelet.conf issued",
      );
      await waitForPrimary(spec, exec, join(realBin, "kubectl"), "/etc/kubernetes/super-admin.conf");
      await runApiPhases(primaryExec, realBin, join(primary.dir, "kubeadm.yaml"));
      step("real apiserver ready; kubeadm upload-config, mark-control-plane, bootstrap-token, addon done");
      filled = await createBulk(
        exec,
        join(realBin, "kubectl"),
        dir,
        opts.bulkKeys ?? 3000,
        spec.primary.address,
      );
      step(`${filled.keys} ConfigMaps (${(filled.bytes / 1048576).toFixed(1)} MiB) created through the API`);
    } else {
      filled = await fillEtcd(spec, primary, dir, opts.bulkKeys ?? 3000);
      step(`etcd filled with ${filled.keys} keys (${(filled.bytes / 1048576).toFixed(1)} MiB)`);
      await waitForPrimary(spec, exec, "kubectl");
      await markControlPlane(spec, exec);
      step("apiserver ready, control-plane node labelled and tainted");
    }
    await waitForNodes(
      exec,
      realBin ? join(realBin, "kubectl") : "kubectl",
      hosts.filter((h) => h.role === "worker").map((h) => h.name),
    );

    state.info = {
      wsNs,
      inventoryFile,
      adminKubeconfig: join(primary.dir, "etc-kubernetes/admin.conf"),
      hosts: hosts.map((h) => `${h.name} ${h.address} ${h.sshUser}`),
    };
    await saveState(state);
    return {
      id,
      dir,
      hosts,
      primary,
      masters: hosts.filter((h) => h.role === "master"),
      lb,
      lbHosts,
      lbAddress,
      lbPort,
      workers: hosts.filter((h) => h.role === "worker"),
      spares: hosts.filter((h) => h.role === "spare"),
      host: get,
      wsNs,
      wsAddress,
      lbDnsName: LB_DNS_NAME,
      inventoryFile,
      identityFile: ws.identityFile,
      knownHostsFile: ws.knownHostsFile,
      stateDir,
      adminKubeconfig: join(primary.dir, "etc-kubernetes/admin.conf"),
      fixture: {
        version: spec.version,
        serviceCidr: spec.serviceCidr,
        podCidr: spec.podCidr,
        domain: spec.domain,
        etcdPeerLocalhost: spec.etcdPeerLocalhost,
        externalCa: spec.externalCa,
        addresses: Object.fromEntries(hosts.map((h) => [h.name, h.address])),
        filledKeys: filled.keys,
        filledBytes: filled.bytes,
      },
      exec,
      wsExec: (argv, o = {}) => run(["ip", "netns", "exec", wsNs, ...argv], { stdin: o.stdin }),
      pids: () => state.pids,
      anchorPid: (name) => {
        const pid = anchors.get(name);
        if (pid === undefined) throw new Error(`lab host ${name} is not running`);
        return pid;
      },
      stop,
    };
  } catch (e) {
    await stop().catch(() => undefined);
    throw e;
  }
}

function nodeDirs(h: LabHost): { name: string; etcKubernetes: string; varLibKubelet: string } {
  return {
    name: h.name,
    etcKubernetes: join(h.dir, "etc-kubernetes"),
    varLibKubelet: join(h.dir, "var-lib-kubelet"),
  };
}

/** kubeadm's objects and bulk data, put by fixture-etcd.js from inside the primary's netns. */
async function fillEtcd(
  spec: ClusterSpec,
  primary: LabHost,
  dir: string,
  bulk: number,
): Promise<{ keys: number; bytes: number }> {
  const pki = join(primary.dir, "etc-kubernetes/pki");
  const server = `https://${spec.primary.address}:6443`;
  const job = {
    endpoint: "https://127.0.0.1:2379",
    ca: join(pki, "etcd/ca.crt"),
    cert: join(pki, "apiserver-etcd-client.crt"),
    key: join(pki, "apiserver-etcd-client.key"),
    objects: [
      ...kubeadmObjects(spec, server, await clusterInfoKubeconfig(server, join(pki, "ca.crt"))),
      ...referenceObjects(spec.primary.address, 6443),
    ],
    bulk,
  };
  const jobFile = join(dir, "scratch/etcd-job.json");
  await writeFile(jobFile, JSON.stringify(job));
  const out = await must([
    "ip",
    "netns",
    "exec",
    primary.ns,
    process.execPath,
    join(REPO, "dist/test/lab/fixture-etcd.js"),
    jobFile,
  ]);
  return JSON.parse(out) as { keys: number; bytes: number };
}

/** kubectl on the primary with its admin.conf. */
function primaryKubectl(exec: Lab["exec"], kubectl: string, kubeconfig = "/etc/kubernetes/admin.conf") {
  return (...args: string[]): Promise<ExecResult> =>
    exec("master-1", [
      kubectl,
      "--kubeconfig",
      kubeconfig,
      "--request-timeout=5s",
      // kubectl caches discovery under $HOME; keep it on the host's private /run.
      "--cache-dir=/run/kubectl-cache",
      ...args,
    ]);
}

/**
 * The primary's apiserver answers /readyz and the kubelet stand-in has registered its Node. Real
 * kubeadm's admin.conf has no rights until its upload-config phase binds kubeadm:cluster-admins:
 * the real flavour waits with super-admin.conf.
 */
async function waitForPrimary(
  spec: ClusterSpec,
  exec: Lab["exec"],
  kubectlBin: string,
  kubeconfig?: string,
): Promise<void> {
  const kubectl = primaryKubectl(exec, kubectlBin, kubeconfig);
  await waitFor(
    "the primary's apiserver /readyz",
    20_000,
    async () => (await kubectl("get", "--raw", "/readyz")).code === 0,
    200,
  );
  await waitFor(
    "Node master-1 registered by the kubelet stand-in",
    20_000,
    async () => (await kubectl("get", "node", spec.primary.name)).code === 0,
    200,
  );
}

/** The workers' Nodes, registered by their kubelet stand-ins: discovery checks each worker against its Node. */
async function waitForNodes(exec: Lab["exec"], kubectlBin: string, names: string[]): Promise<void> {
  if (names.length === 0) return;
  const kubectl = primaryKubectl(exec, kubectlBin);
  await waitFor(
    `Nodes ${names.join(", ")} registered by the kubelet stand-ins`,
    20_000,
    async () => (await kubectl("get", "node", ...names)).code === 0,
    200,
  );
}

/** What kubeadm's mark-control-plane phase does, once the kubelet stand-in has registered the Node. */
async function markControlPlane(spec: ClusterSpec, exec: Lab["exec"]): Promise<void> {
  const kubectl = primaryKubectl(exec, "kubectl");
  const taints = [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }];
  if (minor(spec.version) < 25) taints.push({ key: "node-role.kubernetes.io/master", effect: "NoSchedule" });
  const patch = {
    metadata: {
      labels: {
        "node-role.kubernetes.io/control-plane": "",
        "node.kubernetes.io/exclude-from-external-load-balancers": "",
      },
    },
    spec: { taints },
  };
  const r = await kubectl("patch", "node", spec.primary.name, "--type=merge", "-p", JSON.stringify(patch));
  if (r.code !== 0) throw new Error(`labelling ${spec.primary.name}: ${r.stderr.trim()}`);
}

/** The bulk ConfigMaps and the objects naming the primary (referenceObjects), created through the real API. */
async function createBulk(
  exec: Lab["exec"],
  kubectlBin: string,
  dir: string,
  bulk: number,
  address: string,
): Promise<{ keys: number; bytes: number }> {
  const stored = [
    ...Array.from({ length: bulk }, (_, i) => bulkConfigMap(i)),
    ...referenceObjects(address, 6443),
  ];
  const items = stored.map((object) => {
    // The apiserver sets uid, creationTimestamp and status itself.
    const o = JSON.parse(object.value) as { metadata: Record<string, unknown>; status?: unknown };
    delete o.metadata["uid"];
    delete o.metadata["creationTimestamp"];
    delete o.status;
    return o;
  });
  const file = join(dir, "scratch/bulk.json");
  await mkdir(join(dir, "scratch"), { recursive: true });
  const list = { apiVersion: "v1", kind: "List", items };
  await writeFile(file, JSON.stringify(list));
  const ns = { apiVersion: "v1", kind: "Namespace", metadata: { name: "lab-data" } };
  for (const argv of [
    ["create", "-f", "-"],
    ["create", "-f", file],
  ]) {
    const r = await exec("master-1", [kubectlBin, "--kubeconfig", "/etc/kubernetes/admin.conf", ...argv], {
      stdin: argv[2] === "-" ? JSON.stringify(ns) : undefined,
    });
    if (r.code !== 0) throw new Error(`kubectl ${argv.join(" ")}: ${r.stderr.trim()}`);
  }
  return { keys: bulk, bytes: JSON.stringify(items).length };
}
