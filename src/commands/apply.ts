import type { CommandContext } from "./context.js";
import type { ExitCode } from "../errors.js";
import { buildPlan } from "../plan/build.js";
import { pullMissingImages } from "../phases/images.js";
import { formatChecks, verifyCluster } from "../verify/index.js";
import { entryPointSummary } from "../inventory/load-balancer.js";
import { carryOut, type Procedure } from "./carry-out.js";

/** The conversion (and, with a changed inventory, growing it): what `plan` shows and `apply` does. */
export const conversion: Procedure = {
  resume: "kubeha apply",
  lockName: "apply",
  build: buildPlan,
  // Under the lock (two runs would pull twice) but before the backup.
  prepare: pullMissingImages,
  verify: verifyCluster,
  formatChecks,
  header: entryPointSummary,
  references: true,
  effects: true,
};

/**
 * `kubeha apply`: show the plan, ask (unless --yes), back up, carry out each step that the live
 * state says is not done yet, then verify. Running it again resumes or, when all is done, changes nothing.
 */
export function run(ctx: CommandContext): Promise<ExitCode> {
  return carryOut(ctx, conversion);
}
