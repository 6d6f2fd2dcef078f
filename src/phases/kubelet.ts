/**
 * A node's kubelet as the API sees it: its Node object, Ready condition and heartbeats, and a
 * kubelet restart that waits for a heartbeat newer than the restart. Used by the masters' and the
 * workers' kubeconfig steps and by verify.
 */
import { objectPath, type KubeClient } from "../kube/client.js";
import type { NodeObject } from "../kube/types.js";
import { serverUrl } from "../pki/kubeconfig.js";
import { kubeconfigServers } from "../render/kubeadm-config.js";
import { KUBEADM_LAYOUT } from "../discover/layout.js";
import type { StepContext } from "../engine/step-context.js";
import { CLOSE_POLL } from "../poll.js";

export const KUBELET_CONF = KUBEADM_LAYOUT.kubeletConf;

/** Where every kubeconfig that goes through the LB points: the address clients use (nodes may not resolve the name). */
export function lbServer(ctx: StepContext): string {
  const lb = ctx.inventory.loadBalancer;
  return serverUrl(lb.address, lb.port);
}

/**
 * Where the client steps point the API's clients: the load balancer (apply), or the primary's own
 * apiserver (rollback). `id` prefixes the step ids, so the two never share a journal entry.
 */
export interface ClientTarget {
  server: string;
  /** "through the load balancer", "back to master-1". */
  phrase: string;
  id: string;
  /** kubeadm-config's controlPlaneEndpoint names it too (a rollback restores kubeadm-config from the backup instead). */
  kubeadmConfig: boolean;
}

export function lbTarget(ctx: StepContext): ClientTarget {
  return { server: lbServer(ctx), phrase: "through the load balancer", id: "clients", kubeadmConfig: true };
}

export function primaryTarget(ctx: StepContext): ClientTarget {
  const p = ctx.inventory.primary;
  return {
    server: serverUrl(p.address, ctx.cluster.securePort),
    phrase: `back to ${p.name}`,
    id: "rollback/clients",
    kubeadmConfig: false,
  };
}

/** The client all API edits go through: the primary's apiserver, over its SSH connection. */
export function primaryKube(ctx: StepContext): Promise<KubeClient> {
  return ctx.kube(ctx.inventory.primary.name);
}

export const READY_TIMEOUT_MS = 120_000;

export interface NodeKubeletState {
  ready: boolean;
  reason: string;
  /** Last heartbeat of the Ready condition, ms since the epoch. */
  heartbeatMs?: number;
  /** kubelet.conf points at the LB but the kubelet has not reported since it was written. */
  restartNeeded: boolean;
  servers: string[];
  /** kubelet.conf as read (undefined: it does not exist). */
  kubeconfig?: string;
}

async function readyCondition(ctx: StepContext, nodeName: string) {
  const kube = await primaryKube(ctx);
  const n = await kube.getOptional<NodeObject>(objectPath("nodes", nodeName));
  return n?.status?.conditions?.find((c) => c.type === "Ready");
}

/** The Node's Ready condition and whether its kubelet has reported since kubelet.conf last changed. */
export async function nodeKubeletState(ctx: StepContext, nodeName: string): Promise<NodeKubeletState> {
  const host = ctx.host(nodeName);
  const [text, mtime, cond] = await Promise.all([
    host.readFile(KUBELET_CONF),
    host.exec(`stat -c %Y ${KUBELET_CONF}`),
    readyCondition(ctx, nodeName),
  ]);
  const servers = text ? kubeconfigServers(text.toString("utf8"), `${nodeName}:${KUBELET_CONF}`) : [];
  const heartbeatMs = cond?.lastHeartbeatTime ? Date.parse(cond.lastHeartbeatTime) : undefined;
  const changedMs = Number(mtime.stdout.trim()) * 1000;
  const ready = cond?.status === "True";
  return {
    ready,
    reason: cond ? `Ready=${cond.status}${cond.reason ? ` (${cond.reason})` : ""}` : "no Ready condition",
    heartbeatMs,
    // Heartbeats have one-second resolution, like the file's mtime.
    restartNeeded: Number.isFinite(changedMs) && (heartbeatMs === undefined || heartbeatMs < changedMs),
    servers,
    ...(text && { kubeconfig: text.toString("utf8") }),
  };
}

/** `systemctl restart kubelet`, then wait for Ready with a heartbeat no older than the restart. */
export async function restartKubeletAndWait(
  ctx: StepContext,
  nodeName: string,
  timeoutMs = READY_TIMEOUT_MS,
): Promise<number> {
  const host = ctx.host(nodeName);
  // The node's own clock: the kubelet stamps its heartbeats with it.
  const restartedAt = Number((await host.run("date +%s")).trim()) * 1000;
  const started = Date.now();
  ctx.reporter.step(nodeName, "kubelet: restarting");
  await host.run("systemctl restart kubelet", { changes: true });
  let last = "";
  await ctx.until(
    async () => {
      const cond = await readyCondition(ctx, nodeName);
      const hb = cond?.lastHeartbeatTime ? Date.parse(cond.lastHeartbeatTime) : 0;
      last = cond
        ? `Ready=${cond.status}, last heartbeat ${cond.lastHeartbeatTime ?? "never"}`
        : "no Ready condition";
      return cond?.status === "True" && hb >= restartedAt;
    },
    {
      timeoutMs,
      what: `Node ${nodeName} to report Ready after the kubelet restart`,
      lastError: () => last,
      // A kubelet is back within a second or so: polled closely, a worker's turn ends as soon as it is.
      ...CLOSE_POLL,
    },
    nodeName,
  );
  const took = Date.now() - started;
  ctx.reporter.step(nodeName, `kubelet: Ready again after ${(took / 1000).toFixed(1)}s`);
  return took;
}
