import type { CommandContext } from "../cli.js";
import { ExitCode } from "../errors.js";
import { formatChecks, verifyCluster } from "../verify/index.js";
import { withRunContext } from "./prepare.js";

/** `kubeha verify`: check the end state against the live cluster; non-zero exit on any failure. */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  return withRunContext(
    ctx,
    async (runCtx) => {
      const checks = await verifyCluster(runCtx);
      const ok = checks.every((c) => c.ok);
      if (ctx.values.output === "json") ctx.reporter.result({ ok, checks });
      else ctx.reporter.print(formatChecks(checks));
      return ok ? ExitCode.ok : ExitCode.failed;
    },
    { refuseOnFindings: false },
  );
}
