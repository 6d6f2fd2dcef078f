import type { CommandContext } from "./context.js";
import type { ExitCode } from "../errors.js";
import { showPlan } from "./carry-out.js";

/** `kubeha plan`: everything apply (or, with --rollback, rollback) would do, from the live cluster; changes nothing. */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  const procedure = ctx.values.rollback
    ? (await import("./rollback.js")).rollback
    : (await import("./apply.js")).conversion;
  return showPlan(ctx, procedure);
}
