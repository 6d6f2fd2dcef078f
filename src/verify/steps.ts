import { withEndpoint } from "../etcd/client.js";
import { clusterHealth } from "../etcd/health.js";
import { listMembers } from "../etcd/members.js";
import type { RunContext } from "../engine/context.js";
import type { Step } from "../engine/step.js";
import { plural } from "../ui/plural.js";
import { check, fail, type Check } from "./check.js";

/**
 * The end state of a procedure that shrinks the control plane (rollback, remove, replace's first half),
 * from the live cluster only: etcd's members are exactly `expected`, all started voters and healthy,
 * and every step of the plan reports itself done.
 */
export async function verifyMembersAndSteps(
  ctx: RunContext,
  expected: string[],
  steps: Step[],
): Promise<Check[]> {
  const checks: Check[] = [];
  const ep = await ctx.etcdEndpoint(ctx.inventory.primary.name);
  checks.push(
    await check("etcd members", async () => {
      const members = await withEndpoint(ep, ctx.access.etcdTls, listMembers);
      const names = members.map((m) => `${m.name || m.id}${m.isLearner ? " (learner)" : ""}`).sort();
      if (names.join(",") !== [...expected].sort().join(","))
        fail(`members ${names.join(", ")}, expected ${expected.join(", ")}`);
      const endpoints = await Promise.all(expected.map((n) => ctx.etcdEndpoint(n)));
      const h = await clusterHealth(endpoints, ctx.access.etcdTls);
      if (!h.healthy) fail(h.problems.join("; "));
      return `${plural(members.length, "started voter")} (${names.join(", ")}), healthy, leader ${h.leader}`;
    }),
  );
  return [...checks, ...(await stepChecks(ctx, steps))];
}

/** Each step's own check of its result, one line each (what it found, or its title); reads only, so all at once. */
export function stepChecks(ctx: RunContext, steps: Step[]): Promise<Check[]> {
  return Promise.all(steps.map((s) => check(s.id, async () => (await s.verify(ctx)) || s.title)));
}

export function formatStepChecks(checks: Check[], success: string): string {
  const failed = checks.filter((c) => !c.ok).length;
  return [
    ...checks.map((c) => `${c.ok ? "✓" : "✗"} ${c.name}: ${c.detail}`),
    failed ? `${failed} of ${checks.length} checks FAILED` : `all ${checks.length} checks passed: ${success}`,
  ].join("\n");
}
