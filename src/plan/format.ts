import { unifiedDiff } from "../render/diff.js";
import type { Step } from "./types.js";

export interface PlannedStep {
  step: Step;
  done: boolean;
}

function fileLines(step: Step): string[] {
  const out: string[] = [];
  for (const f of step.files) {
    const mode = f.mode.toString(8).padStart(4, "0");
    if (f.secret) {
      out.push(`    ${f.path} (${mode}, secret): ${f.after}`);
    } else if (f.after.includes("\n")) {
      if (f.before === f.after) {
        out.push(`    ${f.path} (${mode}): unchanged`);
        continue;
      }
      out.push(`    ${f.path} (${mode}): ${f.before === undefined ? "new file" : "changed"}`);
      const diff = unifiedDiff(f.before ?? "", f.after, { fromFile: `a${f.path}`, toFile: `b${f.path}` });
      out.push(
        ...diff
          .split("\n")
          .filter(Boolean)
          .map((l) => `      ${l}`),
      );
    } else {
      out.push(`    ${f.path} (${mode}): ${f.after}`);
    }
  }
  return out;
}

/** The plan as an operator reads it: numbered steps, host, what and why, every file and change. */
export function formatPlan(steps: PlannedStep[], backupDir: string): string {
  const pending = steps.filter((s) => !s.done).length;
  const lines = [
    pending
      ? `Plan: ${pending} of ${steps.length} steps to do. Before the first change, a backup goes to ${backupDir}`
      : `Plan: nothing to do: all ${steps.length} steps are already done.`,
  ];
  steps.forEach(({ step, done }, i) => {
    lines.push(
      "",
      `${i + 1}. [${step.host}] ${step.title}${done ? "  (already done)" : ""}`,
      `   why: ${step.why}`,
    );
    if (!done) {
      lines.push(...step.details.map((d) => `   - ${d}`));
      lines.push(...fileLines(step));
    }
  });
  return lines.join("\n");
}

/** The plan for machines: the same content, secrets described, never included. */
export function planJson(steps: PlannedStep[], backupDir: string) {
  return {
    backupDir,
    pending: steps.filter((s) => !s.done).length,
    steps: steps.map(({ step, done }) => ({
      id: step.id,
      phase: step.phase,
      host: step.host,
      title: step.title,
      why: step.why,
      done,
      details: step.details,
      files: step.files.map((f) => ({
        host: f.host,
        path: f.path,
        mode: f.mode.toString(8).padStart(4, "0"),
        secret: f.secret,
        ...(f.secret ? { description: f.after } : { before: f.before ?? null, after: f.after }),
      })),
      rollback: step.rollback,
    })),
  };
}
