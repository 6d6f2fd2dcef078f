import type { CommandContext } from "./context.js";
import { ExitCode, KubehaError } from "../errors.js";
import { ClusterLock, lockClients } from "../lock/lease.js";
import type { RunContext } from "../engine/context.js";
import { collectReferences, endpointOf, targetOf, type Collected } from "../references/collect.js";
import { fixDiff, fixName } from "../references/fix.js";
import { formatReport, referencesJson } from "../references/format.js";
import { terminalWidth } from "../ui/wrap.js";
import { writeFixes } from "../references/write.js";
import { plural } from "../ui/plural.js";
import { withRunContext } from "./prepare.js";

/** The references scan of a run: the API through the primary, every connected host, `--kubeconfig`. */
export async function scanReferences(run: RunContext, kubeconfig?: string): Promise<Collected> {
  return collectReferences({
    kube: await run.kube(run.inventory.primary.name),
    hosts: [...run.hosts.values()],
    target: targetOf(run.inventory, run.cluster),
    lb: endpointOf(run.inventory),
    ...(kubeconfig && { kubeconfig }),
  });
}

/**
 * The report printed at the end of plan, apply and verify. Informative: a scan that fails is a
 * warning, never the command's failure.
 */
export async function printReferences(
  ctx: CommandContext,
  run: RunContext,
  scanned: Promise<Collected> = scanReferences(run, ctx.values.kubeconfig),
): Promise<Collected | undefined> {
  try {
    const found = await scanned;
    if (ctx.values.output !== "json")
      ctx.reporter.print(formatReport(found, terminalWidth()), formatReport(found));
    return found;
  } catch (err) {
    ctx.reporter.warn(`references scan failed: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/**
 * `kubeha references [--fix]`: what in the cluster and on the hosts still points at the primary's
 * apiserver directly; with --fix, the safe edits (shown as diffs, asked for unless --yes) under the
 * cluster lock, then a second scan.
 */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  const r = ctx.reporter;
  return withRunContext(
    ctx,
    async (runCtx) => {
      const found = await scanReferences(runCtx, ctx.values.kubeconfig);
      if (ctx.values.output === "json" && !ctx.values.fix) {
        r.result(referencesJson(found));
        return ExitCode.ok;
      }
      r.print(formatReport(found, terminalWidth()), formatReport(found));
      if (!ctx.values.fix) return ExitCode.ok;
      if (found.fixes.length === 0) {
        r.info("nothing kubeha can change safely; the rest is to change by hand, as advised above");
        return ExitCode.ok;
      }
      r.print(
        [
          `Plan: ${plural(found.fixes.length, "object")} to change (each only if still at the resourceVersion read):`,
          ...found.fixes.flatMap((f) => [
            `  ${fixName(f)} (resourceVersion ${f.resourceVersion})`,
            ...fixDiff(f)
              .split("\n")
              .filter(Boolean)
              .map((l) => `    ${l}`),
          ]),
        ].join("\n"),
      );
      if (!ctx.values.yes) {
        if (!process.stdin.isTTY) {
          throw new KubehaError(
            "refusing to change references without confirmation: pass --yes (no terminal to ask on)",
            ExitCode.badInput,
          );
        }
        await ClusterLock.refuseIfHeld(lockClients(runCtx));
        const { confirm } = await import("@inquirer/prompts");
        if (!(await confirm({ message: "Make these changes?", default: false }))) {
          r.info("not changed; nothing was written");
          return ExitCode.ok;
        }
      }
      const lock = await ClusterLock.acquire(lockClients(runCtx), r, "references --fix");
      try {
        await writeFixes(await runCtx.kube(runCtx.inventory.primary.name), found.fixes, r);
      } finally {
        await lock.release();
      }
      const after = await scanReferences(runCtx, ctx.values.kubeconfig);
      if (ctx.values.output === "json") r.result(referencesJson(after));
      else
        r.print(
          `After the changes:\n${formatReport(after, terminalWidth())}`,
          `After the changes:\n${formatReport(after)}`,
        );
      return ExitCode.ok;
    },
    { refuseOnFindings: false },
  );
}
