import type { CommandContext } from "./context.js";
import type { ExitCode } from "../errors.js";
import { InputError } from "../errors.js";
import { buildRetirePlan, checkRequest, type RetireRequest } from "../plan/retire.js";
import { inventoryFrom } from "./session.js";
import { formatChecks, verifyCluster } from "../verify/index.js";
import { pullMissingImages } from "../phases/images.js";
import { carryOut, showPlan, type Procedure } from "./carry-out.js";

/** Retiring masters, then converging on the inventory as it is now: `remove` and `replace` both. */
function retirement(req: RetireRequest, resume: string): Procedure {
  return {
    resume,
    lockName: resume.split(" ")[1]!,
    build: (run) => buildRetirePlan(run, req),
    // The plan shows what each step's own run would do: the member removal, then the new master's join.
    effects: true,
    prepare: pullMissingImages,
    // Each step's result (the retire steps and the conversion's for the masters the inventory names now).
    verify: verifyCluster,
    formatChecks,
    session: { retiring: req.names },
  };
}

async function runRetirement(ctx: CommandContext, req: RetireRequest, resume: string): Promise<ExitCode> {
  // The inventory's own refusals first: exit 2 before any host (a dead one among them) is contacted.
  const inv = await inventoryFrom(ctx);
  checkRequest([inv.primary, ...inv.masters], req);
  const p = retirement(req, resume);
  return ctx.values.dryRun ? showPlan(ctx, p) : carryOut(ctx, p);
}

/** `kubeha replace <old> --with <new>`: <old> out of the control plane, <new> (in the inventory) in. */
export function runReplace(ctx: CommandContext): Promise<ExitCode> {
  const names = ctx.values.names ?? [];
  if (names.length !== 1)
    throw new InputError(`kubeha replace: name exactly one master to replace, not ${names.length}`);
  const old = names[0]!;
  const req = { names, replacement: ctx.values.with, address: ctx.values.address };
  return runRetirement(ctx, req, `kubeha replace ${old} --with ${ctx.values.with ?? ""}`);
}

/** `kubeha remove <master>...`: shrink the control plane to the inventory's masters. */
export function runRemove(ctx: CommandContext): Promise<ExitCode> {
  const names = ctx.values.names ?? [];
  return runRetirement(ctx, { names, address: ctx.values.address }, `kubeha remove ${names.join(" ")}`);
}
