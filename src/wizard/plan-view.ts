import { spawn } from "node:child_process";
import { formatPlan, planDetails, planSummary, type PlannedStep } from "../plan/format.js";
import type { Reporter } from "../ui/reporter.js";
import { terminalWidth, wrapText } from "../ui/wrap.js";
import type { Prompter } from "./prompt.js";

/** Shows `text` in `less -R` (the operator scrolls, q returns); false when less could not be started. */
function page(text: string): Promise<boolean> {
  return new Promise((resolve) => {
    const less = spawn("less", ["-R"], { stdio: ["pipe", "inherit", "inherit"] });
    less.on("error", () => resolve(false));
    less.on("close", () => resolve(true));
    // less quit before reading it all: nothing more to say.
    less.stdin.on("error", () => undefined);
    less.stdin.end(text);
  });
}

/**
 * The plan in the wizard: its summary on screen (one line per step, fitted to the terminal), the full
 * plan in the log, the details when asked for: in a pager on a terminal, else printed.
 */
export async function showPlan(
  r: Reporter,
  ask: Prompter,
  plan: { header?: string; steps: PlannedStep[]; backupDir: string },
): Promise<void> {
  const width = terminalWidth();
  r.print(
    `${plan.header ? `${wrapText(plan.header, width)}\n\n` : ""}${planSummary(plan.steps, plan.backupDir, width)}`,
    `${plan.header ? `${plan.header}\n\n` : ""}${formatPlan(plan.steps, plan.backupDir)}`,
  );
  if (plan.steps.every((s) => s.done)) return;
  const details = planDetails(plan.steps, { width, elide: true });
  const lines = details.split("\n").length;
  const where = process.stdout.isTTY ? "in a pager, q to come back" : "printed";
  if (!(await ask.yesNo("details", `See the plan's ${lines} lines of details (${where})?`, false))) return;
  if (!process.stdout.isTTY || !(await page(details))) r.print(details);
}
