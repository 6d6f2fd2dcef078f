/**
 * Before the first change of apply: each new master pulls the primary's static pod images it lacks.
 * A pull changes no cluster state, so it comes before the backup; a host that cannot pull stops the
 * run (exit 2) before anything else is done, instead of leaving an etcd learner that never starts.
 */
import { InputError } from "../errors.js";
import { shellQuote } from "../ssh/shell-quote.js";
import type { StepContext } from "../engine/step-context.js";

/** A pull of a large image over a slow link takes minutes; it is bounded all the same. */
const PULL_TIMEOUT_MS = 15 * 60_000;

export async function pullMissingImages(ctx: StepContext): Promise<void> {
  const r = ctx.reporter;
  for (const facts of ctx.discovery.hosts) {
    for (const image of facts.runtime?.missingImages ?? []) {
      const host = ctx.host(facts.name);
      // Present by now (another run, the operator)? Then nothing to pull.
      if ((await host.exec(shellQuote(["crictl", "inspecti", "-q", image]))).code === 0) continue;
      const t0 = Date.now();
      r.begin(facts.name, `pulling ${image}`);
      const res = await host.exec(shellQuote(["crictl", "pull", image]), {
        timeoutMs: PULL_TIMEOUT_MS,
        changes: true,
      });
      r.end();
      if (res.code !== 0) {
        const why = (res.stderr.trim() || res.stdout.trim() || `exit ${res.code}`)
          .split("\n")
          .slice(-2)
          .join(" ");
        throw new InputError(
          `${facts.name}: cannot pull ${image}: ${why}; nothing was changed (make the image available to the host's runtime, then run apply again)`,
        );
      }
      r.step(facts.name, `pulled ${image} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
    }
  }
}
