import { existsSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { CommandContext } from "./context.js";
import { ExitCode, InputError, KubehaError } from "../errors.js";
import { formatProblem, parseInventory } from "../inventory/index.js";
import { plural } from "../ui/plural.js";
import type { Reporter } from "../ui/reporter.js";
import type { PendingHostKeys } from "../wizard/host-keys.js";
import { Interrupt, isCancel } from "../wizard/interrupt.js";
import { showPlan } from "../wizard/plan-view.js";
import { Prompter } from "../wizard/prompt.js";
import { Wizard } from "../wizard/questions.js";
import { renderInventory } from "../wizard/render.js";
import { outputPathAnswer } from "../wizard/validate.js";

const DEFAULT_OUTPUT = "./kubeha-inventory.yaml";

/** Asks where to write the inventory; an existing file is only replaced when the operator says so. */
async function askOutput(ask: Prompter, def: string, keys: PendingHostKeys): Promise<string> {
  const also = keys.pending.length
    ? ` (and record ${plural(keys.pending.length, "accepted host key")} in known_hosts)`
    : "";
  for (;;) {
    const typed = await ask.text("output", `Write the inventory${also} to:`, {
      default: def,
      validate: outputPathAnswer,
    });
    const path = resolve(typed);
    if (!existsSync(path)) return path;
    if (await ask.yesNo(`overwrite:${path}`, `${path} exists. Overwrite it?`, false)) return path;
  }
}

/** The operator confirmed the inventory: now, and only now, the accepted host keys go to known_hosts. */
async function recordHostKeys(r: Reporter, keys: PendingHostKeys): Promise<void> {
  const written = await keys.commit();
  for (const file of new Set(written.map((k) => k.file))) {
    const hosts = written.filter((k) => k.file === file).map((k) => k.host);
    r.info(`host keys of ${hosts.join(", ")} recorded in ${file}`);
  }
}

/**
 * `kubeha wizard`: asks for the hosts, probing each at once, writes a commented inventory, runs plan on
 * it and asks before apply. Ctrl-C before apply changes nothing (exit 2); apply itself is resumable.
 */
export async function run(ctx: CommandContext): Promise<ExitCode> {
  const r = ctx.reporter;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new InputError(
      "kubeha wizard asks questions and needs a terminal; for automation write an inventory (see inventory/example.yaml) and run `kubeha plan -i FILE`",
    );
  }
  const interrupt = new Interrupt();
  const ask = new Prompter(interrupt.signal);
  const wizard = new Wizard(r, interrupt);
  let written: string | undefined;
  try {
    r.info(
      "kubeha wizard: a few questions, each host checked over SSH as soon as it is named. Nothing is changed until you say so; Ctrl-C leaves everything as it is.",
    );
    const answers = await wizard.collect();
    const given = ctx.values.inventory;
    const path = await askOutput(ask, typeof given === "string" ? given : DEFAULT_OUTPUT, wizard.hostKeys);
    const text = renderInventory(answers, {
      ...wizard.notes,
      writtenAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    });
    // Its warnings are plan's to say, once.
    const parsed = parseInventory(text, path);
    if ("errors" in parsed) {
      throw new KubehaError(
        `internal: the wizard's inventory does not validate:\n${parsed.errors.map((p) => formatProblem(path, p)).join("\n")}`,
      );
    }
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, text, { mode: 0o644 });
    written = path;
    await recordHostKeys(r, wizard.hostKeys);
    r.info(`inventory written to ${path}; now the plan (reads the cluster, changes nothing) ...`);

    const plan = await import("./plan.js");
    const values = { ...ctx.values, inventory: path };
    const planned = await interrupt.race(plan.computePlan({ ...ctx, command: "plan", values }));
    await showPlan(r, ask, planned);
    if (planned.steps.every((s) => s.done)) return ExitCode.ok;
    const go = await ask.yesNo("apply", "Apply this plan now?", false);
    if (!go) {
      r.info(`not applied; nothing was changed. To apply later: kubeha apply -i ${path}`);
      return ExitCode.ok;
    }
    interrupt.dispose();
    // From here Ctrl-C is apply's: it stops after the running step and says how to resume (exit 3).
    const apply = await import("./apply.js");
    return await apply.run({ ...ctx, command: "apply", values: { ...values, yes: true }, planShown: true });
  } catch (err) {
    if (isCancel(err)) {
      r.error(
        written
          ? `wizard cancelled: the cluster was not changed; the inventory is in ${written}`
          : "wizard cancelled: nothing was changed",
      );
      return ExitCode.badInput;
    }
    if (written) r.info(`the inventory is in ${written}; once that is fixed: kubeha plan -i ${written}`);
    throw err;
  } finally {
    interrupt.dispose();
    await wizard.hostKeys.dispose();
  }
}
