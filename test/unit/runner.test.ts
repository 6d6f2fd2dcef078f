// The runner without a cluster: steps skipped when done, the backup before the first change, and
// every later step's `prepare` started before the backup and not waited for.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { Journal } from "../../src/plan/journal.js";
import { runPlan, StepFailure } from "../../src/plan/runner.js";
import type { Step } from "../../src/plan/types.js";
import type { RunContext } from "../../src/phases/context.js";

const quiet = { step() {}, begin() {}, end() {}, debug() {} };
const ctx = { reporter: quiet } as unknown as RunContext;

function step(id: string, log: string[], over: Partial<Step> = {}): Step {
  return {
    id,
    phase: "test",
    host: "h",
    title: id,
    why: "",
    files: [],
    details: [],
    rollback: `undo ${id}`,
    isDone: async () => false,
    run: async () => void log.push(`run ${id}`),
    verify: async () => void log.push(`verify ${id}`),
    ...over,
  };
}

async function withJournal(fn: (j: Journal) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "kubeha-runner-"));
  try {
    await fn(new Journal(dir));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("runPlan", () => {
  test("done steps are skipped; later steps prepare before the backup, which the run does not wait on", async () => {
    await withJournal(async (journal) => {
      const log: string[] = [];
      let release!: () => void;
      const slow = new Promise<void>((r) => (release = r));
      const steps = [
        step("a", log, { isDone: async () => true, prepare: async () => void log.push("prepare a") }),
        step("b", log),
        step("c", log, {
          prepare: async () => {
            log.push("prepare c");
            await slow;
            log.push("prepared c");
          },
        }),
      ];
      const r = await runPlan(ctx, steps, journal, async () => void log.push("backup"));
      assert.deepEqual(r, { ran: 2, skipped: 1 });
      assert.deepEqual(log, ["prepare c", "backup", "run b", "verify b", "run c", "verify c"]);
      release();
      await slow;
    });
  });

  test("a failing prepare does not fail the run; a failing step stops it, naming what was done", async () => {
    await withJournal(async (journal) => {
      const log: string[] = [];
      const steps = [
        step("a", log, { prepare: async () => Promise.reject(new Error("no keys")) }),
        step("b", log, { run: async () => Promise.reject(new Error("boom")) }),
        step("c", log),
      ];
      await assert.rejects(
        runPlan(ctx, steps, journal, async () => {}),
        (err: unknown) =>
          err instanceof StepFailure &&
          /step b on h failed: boom/.test(err.message) &&
          /done before it: a/.test(err.message),
      );
      assert.deepEqual(log, ["run a", "verify a"]);
    });
  });
});
