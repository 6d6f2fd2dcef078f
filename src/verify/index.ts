import { memberHost, memberOf } from "../etcd/members.js";
import { hashKvAll } from "../etcd/health.js";
import type { RunContext } from "../engine/context.js";
import type { Step } from "../engine/step.js";
import { lbChecks } from "./lb.js";
import { stepChecks } from "./steps.js";
import { check, fail, type Check } from "./check.js";
import { plural } from "../ui/plural.js";
export type { Check } from "./check.js";

/**
 * The end state, checked against the live cluster and independent of any journal: every step's own
 * verify (so `verify` and `apply` cannot disagree on what a step makes), and the checks of the whole
 * that no step owns: etcd's members are exactly the masters with equal hashes, and the load balancer
 * reaches every apiserver.
 */
export async function verifyCluster(ctx: RunContext, steps: Step[]): Promise<Check[]> {
  // All only read: at once, listed in this order.
  const [etcd, own, lb] = await Promise.all([etcdChecks(ctx), stepChecks(ctx, steps), lbChecks(ctx)]);
  return [...etcd, ...own, ...lb];
}

async function etcdChecks(ctx: RunContext): Promise<Check[]> {
  const masters = ctx.masters;
  const endpoints = await Promise.all(masters.map((m) => ctx.etcdEndpoint(m.name)));
  const tls = ctx.access.etcdTls;
  const [members, hashes] = await Promise.all([
    check("etcd members", async () => {
      const members = await ctx.etcdMembers();
      const voters = members.filter((m) => !m.isLearner && m.started);
      const missing = masters.filter((h) => !memberOf(voters, memberHost(h))).map((h) => h.name);
      if (missing.length)
        fail(
          `not started voters: ${missing.join(", ")} (members: ${members.map((m) => `${m.name || m.id}${m.isLearner ? " learner" : ""}`).join(", ")})`,
        );
      if (members.length !== masters.length)
        fail(`${plural(members.length, "member")}, expected ${masters.length}`);
      return `${plural(voters.length, "started voter")}: ${voters.map((v) => v.name).join(", ")}`;
    }),
    check("etcd hashKV", async () => {
      const r = await hashKvAll(endpoints, tls);
      if (!r.equal)
        fail(
          `hashes differ at revision ${r.revision}: ${r.hashes.map((x) => `${x.endpoint}=${x.hash ?? x.error}`).join(", ")}`,
        );
      return `equal at revision ${r.revision} (${r.hashes[0]?.hash})`;
    }),
  ]);
  return [members, hashes];
}

export function formatChecks(checks: Check[]): string {
  const failed = checks.filter((c) => !c.ok).length;
  const warned = checks.filter((c) => c.ok && c.warning).map((c) => c.name);
  return [
    ...checks.map((c) => `${c.ok ? (c.warning ? "!" : "✓") : "✗"} ${c.name}: ${c.detail}`),
    failed
      ? `${failed} of ${checks.length} checks FAILED`
      : warned.length
        ? `all ${checks.length} checks passed, but not everything is highly available: see ${warned.join(", ")}`
        : `all ${checks.length} checks passed: the control plane is highly available`,
  ].join("\n");
}
