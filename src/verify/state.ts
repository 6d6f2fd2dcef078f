import { clusterHealth } from "../etcd/health.js";
import type { RunContext } from "../engine/context.js";
import { plural } from "../ui/plural.js";

/**
 * One line on the state the cluster is in, for a failure report: etcd's members (voters, learners),
 * its health, and which apiservers answer /readyz. Best effort with short deadlines; never throws.
 */
export async function clusterState(ctx: RunContext): Promise<string> {
  const parts: string[] = [];
  try {
    const members = await ctx.etcdMembers(undefined, 3000);
    const voters = members.filter((m) => !m.isLearner).map((m) => m.name || m.id);
    const learners = members.filter((m) => m.isLearner).map((m) => m.name || m.id);
    const names = new Set(voters);
    const endpoints = await Promise.all(
      ctx.masters.filter((m) => names.has(m.name)).map((m) => ctx.etcdEndpoint(m.name)),
    );
    const health = await clusterHealth(endpoints, ctx.access.etcdTls, { timeoutMs: 3000 });
    parts.push(
      `etcd has ${plural(voters.length, "voting member")} (${voters.join(", ")})` +
        (learners.length ? ` and learner ${learners.join(", ")}` : "") +
        `, ${health.healthy ? "healthy" : `NOT healthy: ${health.problems.join("; ")}`}`,
    );
  } catch (err) {
    parts.push(`etcd could not be read: ${(err as Error).message}`);
  }
  const ready: string[] = [];
  await Promise.all(
    ctx.masters.map(async (m) => {
      const r = await (await ctx.kube(m.name)).raw("/readyz").catch(() => undefined);
      if (r?.status === 200) ready.push(m.name);
    }),
  );
  parts.push(`apiservers ready: ${ready.length ? ready.sort().join(", ") : "none"}`);
  return parts.join("; ");
}
