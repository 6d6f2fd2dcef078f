/**
 * `verify --failover`: proves the HA rather than inferring it. Stops the primary's control plane
 * (its four static pod manifests moved aside), checks that writes through the LB still succeed, that
 * etcd keeps a leader among the other members and that the controller-manager's and scheduler's
 * leader leases are held from another master, then puts the manifests back and waits until
 * everything is healthy again. Only ever run when asked for, and only on a cluster that verifies.
 */
import { posix } from "node:path";
import { objectPath, type KubeClient, type KubeObject } from "../kube/client.js";
import { clusterHealth } from "../etcd/health.js";
import { manifestPath } from "../render/control-plane.js";
import { shellQuote } from "../ssh/shell-quote.js";
import { waitEtcdHealthy } from "../phases/etcd-health.js";
import { pollUntil } from "../poll.js";
import type { RunContext } from "../engine/context.js";
import { portsListening } from "../ssh/ports.js";
import { lbClient, lbForward, lbRoundRobin } from "./lb.js";
import { leadersElsewhere, readLeaders } from "./leases.js";
import type { Check } from "./check.js";

const ASIDE_DIR = "/etc/kubernetes/kubeha-failover";
const STOP_TIMEOUT_MS = 90_000;
const RECOVER_TIMEOUT_MS = 180_000;
/** A lease runs 15 s by default after its holder's last renewal; a standby retries every 2 s. */
const LEASE_MOVE_TIMEOUT_MS = 90_000;
/** Many times etcd's default election timeout (1 s). */
const ETCD_ELECTION_TIMEOUT_MS = 30_000;

/** The ConfigMap written through the LB while something is down (the primary by default), then deleted. */
export function probeObject(
  name: string,
  purpose = "kubeha verify --failover: written through the load balancer with the primary down",
): KubeObject & { data: Record<string, string> } {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "kube-system", labels: { "app.kubernetes.io/managed-by": "kubeha" } },
    data: { purpose },
  };
}

/** Creates `probe` through `kube` (once), retrying while the API does not take writes. */
export async function writeProbe(
  kube: KubeClient,
  probe: KubeObject,
  what: string,
  timeoutMs: number,
): Promise<void> {
  const { name } = probe.metadata;
  const namespace = probe.metadata.namespace ?? "kube-system";
  let last = "";
  await pollUntil(
    async () => {
      try {
        if (!(await kube.getOptional(objectPath("configmaps", name, namespace))))
          await kube.create(`/api/v1/namespaces/${namespace}/configmaps`, probe);
        return true;
      } catch (err) {
        last = (err as Error).message;
        return false;
      }
    },
    { timeoutMs, what, lastError: () => last },
  );
}

export async function failoverChecks(ctx: RunContext): Promise<Check[]> {
  const primary = ctx.inventory.primary;
  const host = ctx.host(primary.name);
  const checks: Check[] = [];
  const started = Date.now();
  const components = ["kube-apiserver", "etcd", "kube-controller-manager", "kube-scheduler"] as const;
  const moved: { from: string; to: string }[] = [];
  const ports = [ctx.cluster.securePort, 2379];
  const probeName = `kubeha-failover-${Date.now().toString(36)}`;
  const primaryId = (await ctx.etcdMembers(primary.name)).find((m) => m.name === primary.name)?.id;

  const restore = async (): Promise<void> => {
    for (const m of moved.splice(0)) await host.run(shellQuote(["mv", "-f", m.to, m.from]));
  };
  const onSigint = (): void => {
    ctx.reporter.error(`interrupted: putting ${primary.name}'s manifests back`);
    restore().finally(() => process.exit(3));
  };
  process.once("SIGINT", onSigint);
  const fwd = await lbForward(ctx);
  try {
    const kube = await lbClient(ctx, fwd);
    // Leader election names the holder by hostname, which need not be the node name.
    const hostname = (await host.run("uname -n")).trim();
    const leaders = await readLeaders(kube);
    await host.run(shellQuote(["mkdir", "-p", ASIDE_DIR]));
    for (const c of components) {
      const from = manifestPath(c);
      const to = posix.join(ASIDE_DIR, posix.basename(from));
      await host.run(shellQuote(["mv", "-f", from, to]));
      moved.push({ from, to });
    }
    ctx.reporter.step(primary.name, `failover: moved ${components.join(", ")} manifests to ${ASIDE_DIR}`);
    let still = "";
    await pollUntil(
      async () => {
        const open = await portsListening(host);
        still = ports.filter((p) => open.has(p)).join(", ");
        return still === "";
      },
      {
        timeoutMs: STOP_TIMEOUT_MS,
        what: `the apiserver and etcd on ${primary.name} to stop`,
        lastError: () => `still listening on ${still}`,
      },
    );
    checks.push({
      name: "failover: primary stopped",
      ok: true,
      detail: `${primary.name}'s apiserver and etcd stopped after ${((Date.now() - started) / 1000).toFixed(1)}s`,
    });

    // Writes through the LB: nginx skips the dead upstream; etcd elects a leader among the other two.
    const t0 = Date.now();
    await writeProbe(kube, probeObject(probeName), "a write through the load balancer", 60_000);
    const back = await kube.get(objectPath("configmaps", probeName, "kube-system"));
    checks.push({
      name: "failover: write through the LB",
      ok: true,
      detail: `created and read back ConfigMap kube-system/${back.metadata.name} ${((Date.now() - t0) / 1000).toFixed(1)}s after the primary stopped`,
    });

    // The others see the old leader gone only after an election timeout (1 s by default): poll.
    const others = ctx.inventory.masters;
    const endpoints = await Promise.all(others.map((m) => ctx.etcdEndpoint(m.name)));
    let health = await clusterHealth(endpoints, ctx.access.etcdTls);
    const elected = (): boolean => health.leader !== undefined && health.leader !== primaryId;
    await pollUntil(
      async () => {
        health = await clusterHealth(endpoints, ctx.access.etcdTls);
        return elected();
      },
      { timeoutMs: ETCD_ELECTION_TIMEOUT_MS, what: "an etcd leader among the other masters" },
    ).catch(() => undefined);
    const ok = elected();
    const among = others.map((m) => m.name).join(", ");
    checks.push({
      name: "failover: etcd leader",
      ok,
      detail: ok
        ? `leader ${health.leader} among ${among}`
        : health.leader === primaryId
          ? `${among} still follow ${primary.name}'s member ${primaryId} after ${ETCD_ELECTION_TIMEOUT_MS / 1000}s`
          : `no leader among ${among}: ${health.problems.join("; ")}`,
    });
    checks.push(...(await leadersElsewhere(kube, hostname, leaders, LEASE_MOVE_TIMEOUT_MS)));
    await kube.delete(objectPath("configmaps", probeName, "kube-system"));
  } catch (err) {
    checks.push({ name: "failover", ok: false, detail: (err as Error).message });
  } finally {
    await fwd.close();
    try {
      await restore();
    } finally {
      process.removeListener("SIGINT", onSigint);
    }
  }

  // Back as it was: the primary's apiserver ready, etcd healthy with every member, the probe gone.
  const t1 = Date.now();
  try {
    let last = "";
    const kube = await ctx.kube(primary.name);
    await pollUntil(
      async () => {
        const r = await kube
          .raw("/readyz")
          .catch((e: unknown) => ({ status: 0, body: (e as Error).message }));
        last = `/readyz ${r.status} ${r.body.trim().slice(-120)}`;
        return r.status === 200;
      },
      {
        timeoutMs: RECOVER_TIMEOUT_MS,
        what: `${primary.name}'s apiserver to be ready again`,
        lastError: () => last,
      },
    );
    await waitEtcdHealthy(ctx, RECOVER_TIMEOUT_MS);
    // nginx keeps a backend that failed out of its rotation for a while (fail_timeout, 10 s): the
    // cluster is back as it was once the LB sends to the primary again.
    let lastLb = "";
    await pollUntil(
      async () => {
        const r = await lbRoundRobin(ctx);
        lastLb = `after ${r.tries} connections it reached ${r.seen.join(", ") || "none"}${r.error ? ` (${r.error})` : ""}`;
        return r.seen.includes(primary.name);
      },
      {
        timeoutMs: RECOVER_TIMEOUT_MS,
        what: `the load balancer to reach ${primary.name}'s apiserver again`,
        lastError: () => lastLb,
      },
    );
    await kube.delete(objectPath("configmaps", probeName, "kube-system"));
    checks.push({
      name: "failover: restored",
      ok: true,
      detail: `${primary.name}'s manifests back; apiserver ready, etcd healthy with every member and the LB reaching it again after ${((Date.now() - t1) / 1000).toFixed(1)}s`,
    });
  } catch (err) {
    checks.push({
      name: "failover: restored",
      ok: false,
      detail: `${(err as Error).message}; the manifests are back in /etc/kubernetes/manifests on ${primary.name}`,
    });
  }
  return checks;
}
