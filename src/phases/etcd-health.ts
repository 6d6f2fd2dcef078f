// etcd's health as the steps and verify see it, through the primary's member (always a voter).
import { memberHost, memberOf, type EtcdMember } from "../etcd/members.js";
import type { StepContext } from "../engine/step-context.js";

/** The local endpoints of every voting member kubeha has a connection to (a master being retired too). */
export async function voterEndpoints(ctx: StepContext, members: EtcdMember[]): Promise<string[]> {
  const voters = members.filter((m) => !m.isLearner);
  // The inventory's masters by peer URL, then any other connected host that is a voter by name (a master being retired).
  const masters = ctx.masters.filter((h) => memberOf(voters, memberHost(h))).map((h) => h.name);
  const retiring = ctx.connectedHosts.filter(
    (n) => !ctx.masters.some((h) => h.name === n) && voters.some((m) => m.name === n),
  );
  return Promise.all([...masters, ...retiring].map((n) => ctx.etcdEndpoint(n)));
}

/** Every member answers, one leader, raft indexes close, no alarms: polled, since a new voter settles. */
export async function waitEtcdHealthy(ctx: StepContext, timeoutMs = 30_000): Promise<void> {
  let last: string[] = [];
  await ctx.until(
    async () => {
      const members = await ctx.etcd.members();
      const health = await ctx.etcd.health(await voterEndpoints(ctx, members));
      last = health.problems;
      return health.healthy;
    },
    { timeoutMs, what: "etcd cluster health", lastError: () => last.join("; ") },
  );
}
