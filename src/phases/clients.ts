/**
 * Every client of the API moved to the load balancer: kube-proxy, cluster-info and kubeadm-config
 * through the API (optimistic concurrency, only the field that must change), the new masters'
 * control-plane label and taint, and the masters' admin/super-admin/kubelet kubeconfigs on disk.
 *
 * The API is reached with kubeha's own small client over a port forwarded through the primary's SSH
 * connection, with the primary's admin.conf credentials: nothing (no kubectl) is needed on the
 * hosts, and the apiserver's certificate is still checked against the primary's address.
 */
import type { InventoryHost } from "../inventory/types.js";
import { KubehaError } from "../errors.js";
import { KubeApiError, objectPath, type KubeClient, type KubeObject } from "../kube/client.js";
import type { ConfigMap, DaemonSet, NodeObject, Taint } from "../kube/types.js";
import {
  clusterInfoSetServer,
  kubeadmConfigSetEndpoint,
  kubeconfigServers,
  kubeProxyKubeconfigSetServer,
  lbEndpoint,
  lbSans,
} from "../render/kubeadm-config.js";
import { setServer } from "../pki/kubeconfig.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { retry } from "../poll.js";
import { KUBEADM_LAYOUT } from "../discover/layout.js";
import {
  KUBELET_CONF,
  lbServer,
  lbTarget,
  nodeKubeletState,
  primaryKube,
  restartKubeletAndWait,
  type ClientTarget,
} from "./kubelet.js";

/**
 * get → change only what must change → update with the resourceVersion read; a 409 (someone else
 * changed it in between) reads again. Returns whether anything was written.
 */
export async function updateObject<T extends KubeObject>(
  kube: KubeClient,
  path: string,
  mutate: (obj: T) => boolean,
): Promise<boolean> {
  return retry(
    async () => {
      const obj = await kube.get<T>(path);
      if (!mutate(obj)) return false;
      await kube.update(path, obj);
      return true;
    },
    { retryIf: (err) => err instanceof KubeApiError && err.status === 409, attempts: 6, minDelayMs: 0 },
  );
}

interface ConfigMapEdit {
  id: string;
  ns: string;
  name: string;
  key: string;
  edit: (text: string) => { text: string; changed: boolean; diff: string };
}

function configMapEdits(ctx: StepContext, target: ClientTarget): ConfigMapEdit[] {
  const server = target.server;
  const lb = ctx.inventory.loadBalancer;
  const edits: ConfigMapEdit[] = [
    {
      id: "kube-proxy",
      ns: "kube-system",
      name: "kube-proxy",
      key: "kubeconfig.conf",
      edit: (t) => kubeProxyKubeconfigSetServer(t, server),
    },
    {
      id: "cluster-info",
      ns: "kube-public",
      name: "cluster-info",
      key: "kubeconfig",
      edit: (t) => clusterInfoSetServer(t, server),
    },
    {
      id: "kubeadm-config",
      ns: "kube-system",
      name: "kubeadm-config",
      key: "ClusterConfiguration",
      edit: (t) => kubeadmConfigSetEndpoint(t, lbEndpoint(lb), lbSans(lb)),
    },
  ];
  return target.kubeadmConfig ? edits : edits.filter((e) => e.id !== "kubeadm-config");
}

const RESTARTED_AT = "kubectl.kubernetes.io/restartedAt";
/** Records on kube-proxy's pod template which server its pods were restarted for. */
const KUBE_PROXY_SERVER = "kubeha.io/apiserver-endpoint";

function configMapStep(
  ctx: StepContext,
  e: ConfigMapEdit,
  before: string | undefined,
  target: ClientTarget,
): Step {
  const path = objectPath("configmaps", e.name, e.ns);
  const isKubeProxy = e.id === "kube-proxy";
  const why = {
    "kube-proxy":
      "kube-proxy on every node reads its kubeconfig from this ConfigMap; while it names the primary, losing the primary breaks Services",
    "cluster-info":
      "kubeadm join discovers the cluster from this kubeconfig: future nodes must join through the LB",
    "kubeadm-config":
      "kubeadm upgrade and kubeadm join --control-plane read controlPlaneEndpoint and certSANs from here",
  }[e.id];
  const ready = async (kube: KubeClient): Promise<boolean> => {
    const cm = await kube.get<ConfigMap>(path);
    const text = cm.data?.[e.key];
    if (text === undefined || e.edit(text).changed) return false;
    if (!isKubeProxy) return true;
    const ds = await kube.get<DaemonSet>(objectPath("daemonsets", "kube-proxy", "kube-system"));
    return ds.spec.template.metadata?.annotations?.[KUBE_PROXY_SERVER] === target.server;
  };
  return {
    id: `${target.id}/${e.id}`,
    phase: "clients",
    host: "cluster",
    title: `${e.ns}/${e.name}: ${e.key} ${target.phrase}${isKubeProxy ? ", then restart the kube-proxy pods" : ""}`,
    why: why ?? "",
    files: [],
    // The edits themselves are the step's effects, recorded from `run` itself.
    details: [
      `ConfigMap ${e.ns}/${e.name}, key ${e.key}: get, change only this, update with its resourceVersion`,
      ...(before === undefined ? [`  (${e.ns}/${e.name} ${e.key} could not be read)`] : []),
      ...(isKubeProxy
        ? [
            `DaemonSet kube-system/kube-proxy: rollout restart (pod template annotations ${RESTARTED_AT}, ${KUBE_PROXY_SERVER}=${target.server})`,
          ]
        : []),
    ],
    rollback: `edit ${e.ns}/${e.name} and put back the server from the backup's copy${isKubeProxy ? "; kubectl -n kube-system rollout restart ds/kube-proxy" : ""}`,
    isDone: async (c) => ready(await primaryKube(c)),
    run: async (c) => {
      const kube = await primaryKube(c);
      const changed = await updateObject<ConfigMap>(kube, path, (cm) => {
        const text = cm.data?.[e.key];
        if (text === undefined) throw new KubehaError(`${e.ns}/${e.name} has no key ${e.key}`);
        const r = e.edit(text);
        if (!r.changed) return false;
        cm.data = { ...cm.data, [e.key]: r.text };
        return true;
      });
      c.reporter.step(
        "cluster",
        `${e.ns}/${e.name}: ${changed ? "updated" : `already points at ${target.server}`}`,
      );
      if (isKubeProxy) await restartKubeProxy(c, kube, target.server);
    },
    verify: async (c) => {
      if (!(await ready(await primaryKube(c))))
        throw new KubehaError(`${e.ns}/${e.name} ${e.key} does not point at ${target.server}`);
    },
  };
}

/** `kubectl rollout restart ds/kube-proxy`, then wait for the rollout where a controller runs it. */
async function restartKubeProxy(ctx: StepContext, kube: KubeClient, server: string): Promise<void> {
  const path = objectPath("daemonsets", "kube-proxy", "kube-system");
  // A controller that reports rollouts has reported on this DaemonSet before: told by the object as
  // read, which a plan reads too, not by what the API server answers to the change.
  let reported = false;
  await updateObject<DaemonSet>(kube, path, (ds) => {
    reported = ds.status?.observedGeneration !== undefined;
    const meta = (ds.spec.template.metadata ??= {});
    const ann = (meta.annotations ??= {});
    if (ann[KUBE_PROXY_SERVER] === server) return false;
    ann[KUBE_PROXY_SERVER] = server;
    ann[RESTARTED_AT] = new Date().toISOString();
    return true;
  });
  if (!reported) {
    ctx.reporter.step("cluster", "kube-proxy: restart requested (no rollout status reported to wait for)");
    return;
  }
  let last = "";
  try {
    await ctx.until(
      async () => {
        const d = await kube.get<DaemonSet>(path);
        const s = d.status ?? {};
        last = `${s.updatedNumberScheduled ?? 0} of ${s.desiredNumberScheduled ?? 0} updated, ${s.numberAvailable ?? 0} available`;
        return (
          (s.observedGeneration ?? 0) >= (d.metadata.generation ?? 0) &&
          (s.updatedNumberScheduled ?? 0) >= (s.desiredNumberScheduled ?? 0) &&
          (s.numberAvailable ?? 0) >= (s.desiredNumberScheduled ?? 0)
        );
      },
      { timeoutMs: 180_000, what: "the kube-proxy rollout", lastError: () => last, maxDelayMs: 3000 },
    );
    ctx.reporter.step("cluster", `kube-proxy: rolled out (${last})`);
  } catch {
    ctx.reporter.warn(
      `kube-proxy rollout not finished after 180s (${last}); it goes on by itself: kubectl -n kube-system rollout status ds/kube-proxy`,
    );
  }
}

/** The API objects, as steps: kube-proxy, cluster-info, kubeadm-config (when the target goes there). */
export async function configMapSteps(ctx: StepContext, target = lbTarget(ctx)): Promise<Step[]> {
  const kube = await primaryKube(ctx);
  return Promise.all(
    configMapEdits(ctx, target).map(async (e) => {
      const cm = await kube
        .getOptional<ConfigMap>(objectPath("configmaps", e.name, e.ns))
        .catch(() => undefined);
      return configMapStep(ctx, e, cm?.data?.[e.key], target);
    }),
  );
}

// ---- control-plane label and taint on the new masters ----

const ROLE_LABELS = [
  "node-role.kubernetes.io/control-plane",
  "node-role.kubernetes.io/master",
  "node.kubernetes.io/exclude-from-external-load-balancers",
];

/** The labels and taints the primary carries as a control-plane node (at least the control-plane label). */
async function primaryRole(ctx: StepContext): Promise<{ labels: Record<string, string>; taints: Taint[] }> {
  const kube = await primaryKube(ctx);
  const p = await kube.get<NodeObject>(objectPath("nodes", ctx.inventory.primary.name));
  const labels: Record<string, string> = { "node-role.kubernetes.io/control-plane": "" };
  for (const k of ROLE_LABELS) {
    const v = p.metadata.labels?.[k];
    if (v !== undefined) labels[k] = v;
  }
  const taints = (p.spec?.taints ?? [])
    .filter((t) => t.key.startsWith("node-role.kubernetes.io/") && t.effect === "NoSchedule")
    .map((t) => ({ key: t.key, ...(t.value ? { value: t.value } : {}), effect: t.effect }));
  return { labels, taints };
}

function missingRole(node: NodeObject, want: { labels: Record<string, string>; taints: Taint[] }): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(want.labels)) {
    if (node.metadata.labels?.[k] !== v) out.push(`label ${k}`);
  }
  for (const t of want.taints) {
    if (!(node.spec?.taints ?? []).some((x) => x.key === t.key && x.effect === t.effect))
      out.push(`taint ${t.key}:${t.effect}`);
  }
  return out;
}

/** What a new master lacks of the primary's control-plane label and taints (empty: has them all). */
export async function nodeRoleProblems(ctx: StepContext, node: InventoryHost): Promise<string[]> {
  const want = await primaryRole(ctx);
  const kube = await primaryKube(ctx);
  const n = await kube.getOptional<NodeObject>(objectPath("nodes", node.name));
  if (!n) return [`Node ${node.name} is not registered`];
  return missingRole(n, want);
}

export async function nodeRoleStep(ctx: StepContext, node: InventoryHost): Promise<Step> {
  const want = await primaryRole(ctx).catch(() => ({
    labels: { "node-role.kubernetes.io/control-plane": "" },
    taints: [] as Taint[],
  }));
  const path = objectPath("nodes", node.name);
  return {
    id: `clients/node-role/${node.name}`,
    phase: "clients",
    host: node.name,
    title: `label and taint Node ${node.name} as a control-plane node`,
    why: "as the primary is: the scheduler keeps ordinary pods off the masters, and tools find the control plane by its label",
    files: [],
    details: [
      `Node ${node.name}: labels ${Object.keys(want.labels).join(", ")}`,
      `Node ${node.name}: taints ${want.taints.map((t) => `${t.key}:${t.effect}`).join(", ") || "(the primary has none)"}`,
    ],
    rollback: `kubectl label node ${node.name} node-role.kubernetes.io/control-plane-; kubectl taint node ${node.name} node-role.kubernetes.io/control-plane:NoSchedule-`,
    isDone: async (c) => (await nodeRoleProblems(c, node)).length === 0,
    run: async (c) => {
      const kube = await primaryKube(c);
      const role = await primaryRole(c);
      await c.until(
        async () => (await kube.getOptional(path)) !== undefined,
        { timeoutMs: 60_000, what: `Node ${node.name} to be registered by its kubelet` },
        node.name,
      );
      await updateObject<NodeObject>(kube, path, (n) => {
        if (missingRole(n, role).length === 0) return false;
        n.metadata.labels = { ...n.metadata.labels, ...role.labels };
        const taints = [...(n.spec?.taints ?? [])];
        for (const t of role.taints) {
          if (!taints.some((x) => x.key === t.key && x.effect === t.effect)) taints.push(t);
        }
        n.spec = { ...n.spec, taints };
        return true;
      });
    },
    verify: async (c) => {
      const problems = await nodeRoleProblems(c, node);
      if (problems.length) throw new KubehaError(`Node ${node.name} lacks ${problems.join(", ")}`);
    },
  };
}

// ---- kubeconfigs on the masters ----

/** Kubeconfigs on a master that go through the LB; controller-manager.conf and scheduler.conf stay local. */
export const MASTER_LB_KUBECONFIGS = [
  "/etc/kubernetes/admin.conf",
  "/etc/kubernetes/super-admin.conf",
  "/etc/kubernetes/kubelet.conf",
];

/** Server of each present kubeconfig (the current context's cluster). */
export async function kubeconfigServersOn(
  ctx: StepContext,
  host: string,
  paths: string[],
): Promise<Map<string, { text: string; servers: string[] }>> {
  const h = ctx.host(host);
  const out = new Map<string, { text: string; servers: string[] }>();
  for (const p of paths) {
    const text = (await h.readFile(p))?.toString("utf8");
    if (text !== undefined) out.set(p, { text, servers: kubeconfigServers(text, `${host}:${p}`) });
  }
  return out;
}

/** The controller-manager's and scheduler's kubeconfigs: each master's own apiserver, never the LB. */
const LOCAL_KUBECONFIGS = ["controller-manager.conf", "scheduler.conf"].map(
  (f) => `${KUBEADM_LAYOUT.root}/${f}`,
);

/**
 * What is wrong with a master's kubeconfigs for `server`: admin.conf and kubelet.conf (super-admin.conf
 * when present) must point at it; controller-manager.conf and scheduler.conf must exist and not go
 * through the LB.
 */
async function kubeconfigProblems(ctx: StepContext, host: string, server: string): Promise<string[]> {
  const problems: string[] = [];
  const now = await kubeconfigServersOn(ctx, host, [...MASTER_LB_KUBECONFIGS, ...LOCAL_KUBECONFIGS]);
  const lb = lbServer(ctx);
  for (const p of MASTER_LB_KUBECONFIGS) {
    const f = now.get(p);
    if (!f) {
      if (p !== MASTER_LB_KUBECONFIGS[1]) problems.push(`${p} missing`);
    } else if (f.servers.some((s) => s !== server))
      problems.push(`${p} → ${f.servers.join(",")}, not ${server}`);
  }
  for (const p of LOCAL_KUBECONFIGS) {
    const f = now.get(p);
    if (!f) problems.push(`${p} missing`);
    else if (f.servers.includes(lb))
      problems.push(`${p} goes through the LB; it should use its local apiserver`);
  }
  return problems;
}

function describeServerChange(path: string, servers: string[], to: string): string {
  return `${path}: server ${servers.join(",") || "(none)"} → ${to}`;
}

/**
 * admin.conf, super-admin.conf and kubelet.conf on a master point at the LB; when kubelet.conf
 * changed, the kubelet is restarted and must report Ready again before the run goes on.
 */
export async function masterKubeconfigsStep(
  ctx: StepContext,
  node: InventoryHost,
  target = lbTarget(ctx),
): Promise<Step> {
  const server = target.server;
  const current = await kubeconfigServersOn(ctx, node.name, MASTER_LB_KUBECONFIGS).catch(
    () => new Map<string, { text: string; servers: string[] }>(),
  );
  const pending = async (c: StepContext): Promise<string[]> => {
    const now = await kubeconfigServersOn(c, node.name, MASTER_LB_KUBECONFIGS);
    return [...now].filter(([, f]) => f.servers.some((s) => s !== server)).map(([p]) => p);
  };
  return {
    id: `${target.id}/kubeconfigs/${node.name}`,
    phase: "clients",
    host: node.name,
    title: `admin.conf${current.has(MASTER_LB_KUBECONFIGS[1]!) ? ", super-admin.conf" : ""} and kubelet.conf on ${node.name} ${target.phrase}`,
    why: "a kubelet or an operator that talks to one apiserver loses the cluster with that master; controller-manager.conf and scheduler.conf keep their local apiserver",
    files: [],
    details: [
      `restart the kubelet on ${node.name} when kubelet.conf changes, and wait for Node ${node.name} to report Ready with a heartbeat newer than the restart`,
    ],
    rollback: `on ${node.name}: put back ${MASTER_LB_KUBECONFIGS.join(", ")} from the .kubeha-*.bak files next to them; systemctl restart kubelet`,
    isDone: async (c) => {
      if ((await pending(c)).length) return false;
      const s = await nodeKubeletState(c, node.name);
      return s.ready && !s.restartNeeded;
    },
    run: async (c) => {
      const h = c.host(node.name);
      const now = await kubeconfigServersOn(c, node.name, MASTER_LB_KUBECONFIGS);
      let kubeletChanged = false;
      for (const [path, f] of now) {
        if (f.servers.every((s) => s === server)) continue;
        const text = setServer(f.text, server, { file: `${node.name}:${path}` });
        await h.writeFile(path, text, { mode: 0o600, backup: true });
        c.reporter.step(node.name, describeServerChange(path, f.servers, server));
        if (path === KUBELET_CONF) kubeletChanged = true;
      }
      const s = await nodeKubeletState(c, node.name);
      if (kubeletChanged || s.restartNeeded || !s.ready) await restartKubeletAndWait(c, node.name);
    },
    verify: async (c) => {
      const problems = await kubeconfigProblems(c, node.name, server);
      if (problems.length) throw new KubehaError(`${node.name}: ${problems.join("; ")}`);
      const s = await nodeKubeletState(c, node.name);
      if (!s.ready) throw new KubehaError(`Node ${node.name} is not Ready: ${s.reason}`);
      return `admin.conf and kubelet.conf → ${server}; controller-manager.conf and scheduler.conf local; Node Ready`;
    },
  };
}
