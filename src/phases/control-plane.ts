import type { InventoryHost } from "../inventory/types.js";
import { KubehaError } from "../errors.js";
import {
  manifestPath,
  renderApiserverForNode,
  renderControllerManagerForNode,
  renderSchedulerForNode,
  type Component,
} from "../render/control-plane.js";

import { healthz } from "../cluster/tls.js";
import type { Step } from "../engine/step.js";
import type { StepContext } from "../engine/step-context.js";
import { MANIFEST_BACKUPS, manifestBackupDir } from "../backup/manifests.js";
import { readyzProblem, servingNames, servingProblem } from "./serving.js";

const COMPONENTS = ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const;
/** Where kubeadm's controller-manager and scheduler serve /healthz. */
const HEALTH_PORTS = { "kube-controller-manager": 10257, "kube-scheduler": 10259 } as const;
const HEALTH_PORTS_TEXT = `ports ${Object.values(HEALTH_PORTS).join(" and ")}`;
const READY_TIMEOUT_MS = 120_000;

const RENDERERS = {
  "kube-apiserver": renderApiserverForNode,
  "kube-controller-manager": renderControllerManagerForNode,
  "kube-scheduler": renderSchedulerForNode,
} as const;

function rendered(ctx: StepContext, node: InventoryHost) {
  const primary = ctx.inventory.primary;
  return COMPONENTS.map((component) =>
    RENDERERS[component](ctx.cluster.manifests[component], {
      primary: { name: primary.name, address: primary.address },
      node: { name: node.name, address: node.address },
    }),
  );
}

/** Why the controller-manager or the scheduler on `node` is not healthy (undefined: both answer ok). */
async function componentsProblem(ctx: StepContext, node: InventoryHost): Promise<string | undefined> {
  const host = ctx.host(node.name);
  const problems = await Promise.all(
    Object.entries(HEALTH_PORTS).map(async ([c, port]) =>
      (await healthz(host, port)) ? undefined : `${c} /healthz on port ${port} not answering ok`,
    ),
  );
  return problems.find((p) => p !== undefined);
}

/**
 * The apiserver, controller-manager and scheduler of a new master, rendered from the primary's own
 * manifests (every customised flag survives) with this node's addresses; then wait until the
 * apiserver is ready. The other two are waited for by `controlPlaneHealthStep`: the clients use only
 * the apiserver, and need not wait for them.
 */
export async function controlPlaneStep(ctx: StepContext, node: InventoryHost): Promise<Step> {
  const host = ctx.host(node.name);
  const manifests = rendered(ctx, node);
  const current = await Promise.all(
    manifests.map(async (m) => ({ m, before: (await host.readFile(m.path))?.toString("utf8") })),
  );
  const backupDir = manifestBackupDir(ctx.started);
  const replaced = current
    .filter(({ m, before }) => before !== undefined && before !== m.text)
    .map(({ m }) => m.path);
  const isWritten = async (): Promise<boolean> => {
    for (const m of manifests) {
      if ((await host.readFile(m.path))?.toString("utf8") !== m.text) return false;
    }
    return true;
  };
  let lastProblem: string | undefined;
  return {
    id: `control-plane/${node.name}`,
    phase: "control-plane",
    host: node.name,
    title: `start kube-apiserver, kube-controller-manager and kube-scheduler on ${node.name}`,
    why: "the static pods are the primary's, flag for flag, with this node's advertise address, probes and local etcd member",
    // The manifests written and the wait are the step's effects, recorded from `run` itself.
    files: [],
    details: [
      ...manifests.flatMap((m) => m.changes.map((c) => `${m.component}: ${c}`)),
      ...(replaced.length ? [`the manifests it replaces are kept in ${backupDir}/ on ${node.name}`] : []),
      `ready: /readyz of the apiserver on ${node.name}`,
    ],
    rollback:
      `on ${node.name}: move ${COMPONENTS.map((c) => manifestPath(c as Component)).join(", ")} out of ` +
      `/etc/kubernetes/manifests (under another name there the kubelet still runs them)` +
      (replaced.length ? `; the ones they replaced are in the newest ${MANIFEST_BACKUPS}/` : ""),
    isDone: async (c) => (await isWritten()) && (await readyzProblem(c, node)) === undefined,
    run: async (c) => {
      const host = c.host(node.name);
      for (const m of manifests) {
        const old = (await host.readFile(m.path))?.toString("utf8");
        if (old === m.text) continue;
        await host.writeFile(m.path, m.text, { mode: 0o600, backup: { dir: backupDir } });
        if (old !== undefined)
          c.reporter.step(node.name, `control-plane: the old ${m.path} is kept in ${backupDir}/`);
      }
      c.reporter.step(node.name, "control-plane: manifests written; waiting for the apiserver to be ready");
      await c.until(
        async () => (lastProblem = await readyzProblem(c, node)) === undefined,
        {
          timeoutMs: READY_TIMEOUT_MS,
          what: `the apiserver on ${node.name}`,
          lastError: () => lastProblem ?? "",
        },
        node.name,
      );
    },
    verify: async (c) => {
      const missing: string[] = [];
      for (const m of manifests) if (!(await c.host(node.name).readFile(m.path))) missing.push(m.path);
      const problem = missing.length
        ? `missing ${missing.join(", ")}`
        : ((await readyzProblem(c, node)) ?? (await servingProblem(c, node)));
      if (problem) throw new KubehaError(`${node.name}: ${problem}`);
      return `ready; serving certificate valid for ${servingNames(c, node).valid.join(", ")}`;
    },
  };
}

/**
 * The new master's controller-manager and scheduler answer /healthz (on a new master they stand by:
 * the primary's hold the leader leases). Only waits, so it takes no slot on the host and runs beside
 * the clients' steps.
 */
export function controlPlaneHealthStep(node: InventoryHost): Step {
  let lastProblem: string | undefined;
  return {
    id: `control-plane/${node.name}/healthz`,
    phase: "control-plane",
    host: node.name,
    title: `kube-controller-manager and kube-scheduler on ${node.name} answer /healthz`,
    why: "started with the apiserver from the primary's manifests; a master whose controller-manager or scheduler never comes up cannot take over when the primary's fail",
    files: [],
    details: [`waits for /healthz on ${HEALTH_PORTS_TEXT} of ${node.name}; changes nothing`],
    waitsOnly: true,
    rollback: "nothing to undo: this step only waits",
    isDone: async (c) => (await componentsProblem(c, node)) === undefined,
    run: (c) =>
      c.until(
        async () => (lastProblem = await componentsProblem(c, node)) === undefined,
        {
          timeoutMs: READY_TIMEOUT_MS,
          what: `the controller-manager and scheduler on ${node.name}`,
          lastError: () => lastProblem ?? "",
        },
        node.name,
      ),
    verify: async (c) => {
      const problem = await componentsProblem(c, node);
      if (problem) throw new KubehaError(`${node.name}: ${problem}`);
      return `/healthz ok on ${HEALTH_PORTS_TEXT}`;
    },
  };
}
