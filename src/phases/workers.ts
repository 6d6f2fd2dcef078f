/**
 * Every worker's kubelet.conf pointed at the load balancer, a few workers at a time: write, restart
 * the kubelet, wait for the Node to report Ready with a heartbeat newer than the restart. A worker
 * that cannot be reached is skipped and named at the end (the others are done; a re-run finishes
 * it); a kubelet that does not come back gets its previous kubelet.conf again and stops the roll.
 */
import type { InventoryHost } from "../inventory/types.js";
import { KubehaError } from "../errors.js";
import { setServer } from "../pki/kubeconfig.js";
import { kubeconfigServers } from "../render/kubeadm-config.js";
import { settleAll } from "../ssh/limit.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import {
  KUBELET_CONF,
  lbTarget,
  nodeKubeletState,
  READY_TIMEOUT_MS,
  restartKubeletAndWait,
  type NodeKubeletState,
} from "./kubelet.js";
import { plural } from "../ui/plural.js";

function done(s: NodeKubeletState, server: string): boolean {
  return s.servers.length > 0 && s.servers.every((x) => x === server) && s.ready && !s.restartNeeded;
}

type WorkerOutcome =
  | { kind: "done" | "already" }
  | { kind: "unreachable"; reason: string }
  | { kind: "failed"; reason: string }
  | { kind: "not-started" };

/** Points one worker's kubelet at `server`; throws KubehaError only for "the kubelet did not come back". */
async function rollWorker(ctx: StepContext, w: InventoryHost, server: string): Promise<WorkerOutcome> {
  let text: string;
  let state: NodeKubeletState;
  try {
    state = await nodeKubeletState(ctx, w.name);
    if (state.kubeconfig === undefined)
      return { kind: "unreachable", reason: `${KUBELET_CONF} does not exist` };
    text = state.kubeconfig;
  } catch (err) {
    return { kind: "unreachable", reason: (err as Error).message };
  }
  if (done(state, server)) return { kind: "already" };
  const host = ctx.host(w.name);
  const changed = !state.servers.every((s) => s === server);
  if (changed) {
    const next = setServer(text, server, { file: `${w.name}:${KUBELET_CONF}` });
    try {
      await host.writeFile(KUBELET_CONF, next, { mode: 0o600, backup: true });
    } catch (err) {
      return { kind: "unreachable", reason: (err as Error).message };
    }
    ctx.reporter.step(w.name, `kubelet.conf: server ${state.servers.join(",")} → ${server}`);
  }
  try {
    await restartKubeletAndWait(ctx, w.name);
    return { kind: "done" };
  } catch (err) {
    const reason = (err as Error).message;
    if (changed) {
      // Put the old server back so the node keeps working, and say so. This is this worker's machine
      // alone: discovery refused any other entry for the same machine (src/discover/identity.ts).
      await host.writeFile(KUBELET_CONF, text, { mode: 0o600 }).catch(() => undefined);
      await host.exec("systemctl restart kubelet", { changes: true }).catch(() => undefined);
      return { kind: "failed", reason: `${reason}; its previous kubelet.conf was put back` };
    }
    return { kind: "failed", reason };
  }
}

/** All workers, `options.workerConcurrency` at a time; after the control plane, the last step of the run. */
export async function workersStep(ctx: StepContext, target = lbTarget(ctx)): Promise<Step> {
  const server = target.server;
  const workers = ctx.inventory.workers;
  const concurrency = Math.max(1, ctx.inventory.options.workerConcurrency);
  const current = await settleAll(
    workers.map((w) => async () => {
      const buf = await ctx.host(w.name).readFile(KUBELET_CONF);
      return buf ? kubeconfigServers(buf.toString("utf8"), `${w.name}:${KUBELET_CONF}`) : [];
    }),
    8,
  );
  const unreadable = workers.flatMap((w, i) => {
    const r = current[i]!;
    return r.status === "rejected" ? [`${w.name} cannot be read now: ${(r.reason as Error).message}`] : [];
  });
  // Reads only: many workers at once (a hundred one after the other would take seconds).
  const workerStates = async (c: StepContext) =>
    (
      await settleAll(
        workers.map((w) => () => nodeKubeletState(c, w.name)),
        8,
      )
    ).map((r) => {
      if (r.status === "rejected") throw r.reason;
      return r.value;
    });
  return {
    id: `${target.id}/workers`,
    phase: "clients",
    host: "workers",
    title: `kubelet.conf on ${plural(workers.length, "worker")} ${target.phrase}, ${concurrency} at a time`,
    why: "a kubelet talking to one apiserver loses its node with that master; rolling a few at a time keeps most nodes untouched while each is checked Ready",
    // The files written, the restarts and the waits are the step's effects, recorded from `run` itself.
    files: [],
    details: [
      ...unreadable,
      `per worker: write kubelet.conf (backup kept), systemctl restart kubelet, wait (up to ${READY_TIMEOUT_MS / 1000}s) for the Node to report Ready with a heartbeat newer than the restart`,
      "an unreachable worker is skipped and named at the end; a kubelet that does not come back gets its old kubelet.conf and stops the roll",
    ],
    rollback: `on each worker: put back ${KUBELET_CONF} from ${KUBELET_CONF}.kubeha-*.bak; systemctl restart kubelet`,
    isDone: async (c) => (await workerStates(c)).every((s) => done(s, server)),
    run: async (c) => {
      let stop = false;
      const outcomes = await settleAll(
        workers.map((w) => async (): Promise<WorkerOutcome> => {
          if (stop) return { kind: "not-started" };
          const o = await rollWorker(c, w, server);
          if (o.kind === "failed") stop = true;
          if (o.kind === "unreachable") c.reporter.warn(`${w.name}: skipped, unreachable: ${o.reason}`);
          return o;
        }),
        concurrency,
      );
      const by = (kind: WorkerOutcome["kind"]) =>
        workers.filter((_, i) => {
          const o = outcomes[i]!;
          return o.status === "fulfilled" ? o.value.kind === kind : kind === "failed";
        });
      const reasonOf = (w: InventoryHost): string => {
        const o = outcomes[workers.indexOf(w)]!;
        if (o.status === "rejected") return (o.reason as Error).message;
        return "reason" in o.value ? o.value.reason : "";
      };
      const ok = [...by("done"), ...by("already")];
      c.reporter.step(
        "workers",
        `kubelet.conf ${target.phrase} on ${ok.length} of ${plural(workers.length, "worker")} (${by("done").length} changed now)`,
      );
      const bad = [...by("unreachable"), ...by("failed")];
      if (bad.length || by("not-started").length) {
        throw new KubehaError(
          [
            `${plural(bad.length, "worker")} not moved to ${server}: ` +
              bad.map((w) => `${w.name} (${reasonOf(w)})`).join("; "),
            ...(by("not-started").length
              ? [
                  `not started after that failure: ${by("not-started")
                    .map((w) => w.name)
                    .join(", ")}`,
                ]
              : []),
            `every other step and worker is done; run apply again once ${bad.map((w) => w.name).join(", ")} can be reached (done workers are skipped)`,
          ].join("\n"),
        );
      }
    },
    verify: async (c) => {
      const states = await workerStates(c);
      const left = workers.flatMap((w, i) => {
        const s = states[i]!;
        return done(s, server) ? [] : [`${w.name} (${s.servers.join(",")}, ${s.reason})`];
      });
      if (left.length)
        throw new KubehaError(`workers not pointing at ${server} or not Ready: ${left.join("; ")}`);
    },
  };
}
