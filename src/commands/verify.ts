import type { CommandContext } from "./context.js";
import { ExitCode } from "../errors.js";
import { formatChecks, verifyCluster } from "../verify/index.js";
import { buildPlan } from "../plan/build.js";
import { failoverChecks } from "../verify/failover.js";
import { entryPointFailover } from "../verify/entry-failover.js";
import { ClusterLock, lockClients } from "../lock/lease.js";
import { withRunContext } from "./prepare.js";
import { printReferences } from "./references.js";
import { referencesJson } from "../references/format.js";

/** `kubeha verify`: check the end state against the live cluster; non-zero exit on any failure. */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  return withRunContext(
    ctx,
    async (runCtx) => {
      // The conversion's own steps, each checking what it makes, for the inventory as it is now.
      const checks = await verifyCluster(runCtx, await buildPlan(runCtx));
      if (ctx.values.failover) {
        // Stopping a master is only safe on a cluster that already verifies.
        if (checks.every((c) => c.ok)) {
          // Stopping the primary's apiserver and etcd is a change: not while another run changes the cluster.
          const lock = await ClusterLock.acquire(lockClients(runCtx), ctx.reporter, "verify --failover");
          try {
            ctx.reporter.info(
              "failover test: stopping the primary's control plane (its manifests are put back after)",
            );
            checks.push(...(await failoverChecks(runCtx)));
            ctx.reporter.info(
              "failover test: the entry point (stopping the active load balancer where there is another)",
            );
            checks.push(...(await entryPointFailover(runCtx)));
          } finally {
            await lock.release();
          }
        } else {
          checks.push({
            name: "failover",
            ok: false,
            detail: "not run: the cluster must pass every other check before a master is stopped",
          });
        }
      }
      const ok = checks.every((c) => c.ok);
      if (ctx.values.output !== "json") ctx.reporter.print(formatChecks(checks));
      // Reported, not checked: a reference outside kubeha's conversion does not fail verify.
      const references = await printReferences(ctx, runCtx);
      if (ctx.values.output === "json")
        ctx.reporter.result({ ok, checks, references: references && referencesJson(references) });
      return ok ? ExitCode.ok : ExitCode.failed;
    },
    { refuseOnFindings: false },
  );
}
