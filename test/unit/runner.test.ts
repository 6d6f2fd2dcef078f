// The runner without a cluster: fake steps whose run is a promise the test controls or a short sleep,
// to check the order the needs give, the limits and exclusive resources (by the most steps ever
// running at once), failure, resume, Ctrl-C, the backup before the first change, and the journal.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { ExitCode, KubehaError } from "../../src/errors.js";
import { Journal } from "../../src/plan/journal.js";
import { runPlan, startPreparing, StepFailure, type RunOptions } from "../../src/plan/runner.js";
import { DEFAULT_LIMITS } from "../../src/plan/graph.js";
import type { Step } from "../../src/engine/step.js";
import type { RunContext } from "../../src/engine/context.js";

const warnings: string[] = [];
const quiet = {
  step() {},
  begin() {},
  end() {},
  debug() {},
  progress() {},
  warn: (m: string) => void warnings.push(m),
};
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

/** Counts the steps running at once, in all and per host. */
class Meter {
  now = 0;
  max = 0;
  readonly host = new Map<string, number>();
  readonly maxHost = new Map<string, number>();
  readonly events: string[] = [];

  /** A run that takes `ms` and is counted meanwhile. */
  run(id: string, host: string, ms = 15): () => Promise<void> {
    return async () => {
      this.events.push(`start ${id}`);
      this.max = Math.max(this.max, ++this.now);
      const h = (this.host.get(host) ?? 0) + 1;
      this.host.set(host, h);
      this.maxHost.set(host, Math.max(this.maxHost.get(host) ?? 0, h));
      await sleep(ms);
      this.now--;
      this.host.set(host, this.host.get(host)! - 1);
      this.events.push(`end ${id}`);
    };
  }

  started(id: string): number {
    return this.events.indexOf(`start ${id}`);
  }

  ended(id: string): number {
    return this.events.indexOf(`end ${id}`);
  }
}

/** A fake step on `host` whose run the meter counts. */
function timed(id: string, host: string, meter: Meter, over: Partial<Step> = {}): Step {
  return step(id, [], { host, run: meter.run(id, host), verify: async () => {}, ...over });
}

/** A promise the test settles. */
function gate(): { promise: Promise<void>; open: () => void; fail: (e: Error) => void } {
  let open!: () => void;
  let fail!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((open = res), (fail = rej)));
  return { promise, open, fail };
}

async function withJournal(fn: (j: Journal, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "kubeha-runner-"));
  try {
    await fn(new Journal(dir), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const run = (steps: Step[], journal: Journal, over: Partial<RunOptions> = {}) =>
  runPlan(ctx, steps, journal, { beforeFirstChange: async () => {}, ...over });

async function journalSteps(dir: string): Promise<string[]> {
  const j = JSON.parse(await readFile(join(dir, "journal.json"), "utf8")) as {
    runs: { steps: { id: string; outcome: string }[] }[];
  };
  return j.runs.at(-1)!.steps.map((s) => `${s.outcome} ${s.id}`);
}

describe("runPlan", () => {
  test("done steps are skipped; the backup comes before the first step that changes something", async () => {
    await withJournal(async (journal) => {
      const log: string[] = [];
      const steps = [step("a", log, { isDone: async () => true }), step("b", log), step("c", log)];
      const r = await run(steps, journal, { beforeFirstChange: async () => void log.push("backup") });
      assert.deepEqual(r, { ran: 2, skipped: 1 });
      assert.deepEqual(log, ["backup", "run b", "verify b", "run c", "verify c"]);
    });
  });

  test("the backup once, before any step runs, however many steps are ready at once", async () => {
    await withJournal(async (journal) => {
      const log: string[] = [];
      const steps = ["a", "b", "c"].map((id) => step(id, log, { host: id }));
      await run(steps, journal, {
        beforeFirstChange: async () => {
          log.push("backup");
          await sleep(20);
          log.push("backup done");
        },
      });
      assert.deepEqual(log.slice(0, 2), ["backup", "backup done"]);
      assert.equal(log.filter((l) => l === "backup").length, 1);
      assert.equal(log.length, 8);
    });
  });

  test("a failed backup fails the first step that waited for it; the others never began", async () => {
    await withJournal(async (journal, dir) => {
      const log: string[] = [];
      const steps = ["a", "b", "c"].map((id) => step(id, log, { host: id }));
      await assert.rejects(
        run(steps, journal, { beforeFirstChange: async () => Promise.reject(new Error("disk full")) }),
        (err: unknown) =>
          err instanceof StepFailure &&
          /step a on a failed: disk full/.test(err.message) &&
          /running when it failed, then let finish: b \(not started\), c \(not started\)/.test(err.message),
      );
      assert.deepEqual(log, []);
      assert.deepEqual(await journalSteps(dir), ["failed a"]);
    });
  });

  test("a step starts once every step it needs is done; independent ones run at the same time", async () => {
    await withJournal(async (journal, dir) => {
      const m = new Meter();
      const steps = [
        timed("a", "h1", m),
        timed("b", "h2", m, { needs: ["a"] }),
        timed("c", "h3", m, { needs: ["a"] }),
        timed("d", "h1", m, { needs: ["b", "c"] }),
      ];
      assert.deepEqual(await run(steps, journal), { ran: 4, skipped: 0 });
      assert.ok(m.ended("a") < m.started("b") && m.ended("a") < m.started("c"), m.events.join(", "));
      assert.ok(m.started("b") < m.ended("c") && m.started("c") < m.ended("b"), "b and c overlap");
      assert.ok(m.ended("b") < m.started("d") && m.ended("c") < m.started("d"), m.events.join(", "));
      // The journal in the order things happened: b and c both started before either was done.
      const j = await journalSteps(dir);
      assert.deepEqual(j.slice(0, 4), ["started a", "done a", "started b", "started c"]);
      assert.deepEqual(j.slice(-2), ["started d", "done d"]);
    });
  });

  test("steps holding the same resource never overlap, whatever their hosts", async () => {
    await withJournal(async (journal) => {
      const m = new Meter();
      const inEtcd = new Meter();
      const steps = ["m2", "m3", "m4"].map((h) =>
        step(`etcd/${h}`, [], { host: h, exclusive: ["etcd-membership"], run: inEtcd.run(h, "etcd") }),
      );
      steps.push(...["m2", "m3", "m4"].map((h) => timed(`pki/${h}`, `${h}-other`, m)));
      await run(steps, journal);
      assert.equal(inEtcd.max, 1);
      assert.equal(m.max, 3, "the other steps did run at once");
    });
  });

  test("per host and in all, never more steps than the limits; steps on 'cluster' count only in all", async () => {
    await withJournal(async (journal) => {
      const m = new Meter();
      const steps = [
        ...[1, 2, 3, 4].map((i) => timed(`h1/${i}`, "h1", m)),
        ...[1, 2, 3, 4].map((i) => timed(`h2/${i}`, "h2", m)),
        ...[1, 2, 3, 4].map((i) => timed(`api/${i}`, "cluster", m)),
      ];
      await run(steps, journal, { limits: { ...DEFAULT_LIMITS, perHost: 2, global: 5 } });
      assert.equal(m.max, 5);
      assert.equal(m.maxHost.get("h1"), 2);
      assert.equal(m.maxHost.get("h2"), 2);
      assert.ok(m.maxHost.get("cluster")! > 2, `cluster: ${m.maxHost.get("cluster")}`);
      // The default: one step per machine.
      const one = new Meter();
      await run(
        [1, 2, 3].map((i) => timed(`h/${i}`, "h", one)),
        journal,
      );
      assert.equal(one.max, 1);
    });
  });

  test(
    "a step that only waits takes no host slot: it runs beside a change on its host, which still run one at a time",
    { timeout: 5000 },
    async () => {
      await withJournal(async (journal) => {
        const m = new Meter();
        // The wait holds until the first change on its host has started: with a host slot it would never.
        const changed = gate();
        const steps = [
          step("wait", [], {
            host: "h",
            waitsOnly: true,
            run: async () => {
              await changed.promise;
            },
            verify: async () => {},
          }),
          timed("change/1", "h", m, { run: async () => (changed.open(), m.run("change/1", "h")()) }),
          timed("change/2", "h", m),
        ];
        const r = await run(steps, journal);
        assert.equal(r.ran, 3);
        assert.equal(m.maxHost.get("h"), 1, "the two changes never overlap");
      });
    },
  );

  test("a step that only waits is carried out even when its condition already holds", async () => {
    await withJournal(async (journal, dir) => {
      const log: string[] = [];
      const steps = [
        step("change", log, { isDone: async () => true }),
        step("wait", log, { waitsOnly: true, isDone: async () => true }),
      ];
      const r = await run(steps, journal);
      assert.deepEqual(log, ["run wait", "verify wait"]);
      assert.deepEqual([r.ran, r.skipped], [1, 1]);
      const outcomes = (await journalSteps(dir)).filter((l) => !l.startsWith("started")).sort();
      assert.deepEqual(outcomes, ["already-done change", "done wait"]);
    });
  });

  test("a failure starts nothing more, lets the running steps finish, and names what was done and running", async () => {
    await withJournal(async (journal, dir) => {
      warnings.length = 0;
      const log: string[] = [];
      const slow = gate();
      const steps = [
        step("a", log, { host: "h1" }),
        step("b", log, { host: "h2", needs: ["a"], run: async () => Promise.reject(new Error("boom")) }),
        step("c", log, {
          host: "h3",
          needs: ["a"],
          run: async () => {
            log.push("run c");
            await slow.promise;
          },
        }),
        step("d", log, { host: "h4", needs: ["b"] }),
        // Ready once c is done, after b failed: not started.
        step("e", log, { host: "h5", needs: ["c"] }),
      ];
      const failed = run(steps, journal);
      await sleep(20);
      assert.match(warnings.join("\n"), /b failed; waiting for the steps still running: c/);
      slow.open();
      await assert.rejects(failed, (err: unknown) => {
        assert.ok(err instanceof StepFailure);
        assert.match(err.message, /step b on h2 failed: boom/);
        assert.match(err.message, /done before it: a; running when it failed, then let finish: c \(done\)/);
        assert.match(err.message, /to undo this step by hand: undo b/);
        return true;
      });
      assert.deepEqual(log, ["run a", "verify a", "run c", "verify c"]);
      const j = await journalSteps(dir);
      assert.deepEqual(j, ["started a", "done a", "started b", "started c", "failed b", "done c"]);
    });
  });

  test("startPreparing starts every prepare and never awaits or throws: a failing one is only logged", async () => {
    const log: string[] = [];
    let release!: () => void;
    const slow = new Promise<void>((r) => (release = r));
    startPreparing(ctx, [
      step("a", log, { prepare: async () => Promise.reject(new Error("no keys")) }),
      step("b", log, { prepare: async () => void log.push("prepare b") }),
      step("c", log, { prepare: () => slow.then(() => void log.push("prepared c")) }),
    ]);
    assert.deepEqual(log, ["prepare b"]);
    release();
    await slow;
    await sleep(1);
    assert.deepEqual(log, ["prepare b", "prepared c"]);
  });

  test("startPreparing starts a step's prepare once, however often it is asked", async () => {
    const log: string[] = [];
    const a = step("a", log, { prepare: async () => void log.push("prepare a") });
    const b = step("b", log, { prepare: async () => void log.push("prepare b") });
    // apply --yes: the first step's keys at the lock, then every pending step's after the plan.
    startPreparing(ctx, [a]);
    startPreparing(ctx, [a, b]);
    assert.deepEqual(log, ["prepare a", "prepare b"]);
  });

  test("a failing step stops the run, naming what was done", async () => {
    await withJournal(async (journal) => {
      const log: string[] = [];
      const steps = [
        step("a", log),
        step("b", log, { run: async () => Promise.reject(new Error("boom")) }),
        step("c", log),
      ];
      await assert.rejects(
        run(steps, journal),
        (err: unknown) =>
          err instanceof StepFailure &&
          /step b on h failed: boom/.test(err.message) &&
          /done before it: a;/.test(err.message),
      );
      assert.deepEqual(log, ["run a", "verify a"]);
    });
  });

  test("resumed: the steps the live state says are done are skipped, and what needs them runs", async () => {
    await withJournal(async (journal, dir) => {
      const log: string[] = [];
      const done = new Set(["a", "b"]);
      const steps = [
        step("a", log, { isDone: async () => done.has("a") }),
        step("b", log, { host: "h2", needs: ["a"], isDone: async () => done.has("b") }),
        step("c", log, { needs: ["b"] }),
        // isDone failing (what it asks does not exist yet) means: not done.
        step("d", log, { needs: ["c"], isDone: async () => Promise.reject(new Error("no member")) }),
      ];
      let backups = 0;
      const r = await run(steps, journal, { beforeFirstChange: async () => void backups++ });
      assert.deepEqual(r, { ran: 2, skipped: 2 });
      assert.deepEqual(log, ["run c", "verify c", "run d", "verify d"]);
      assert.equal(backups, 1);
      assert.deepEqual((await journalSteps(dir)).slice(0, 2), ["already-done a", "already-done b"]);
      // All done: no backup, nothing run.
      const again = await run(
        steps.map((s) => ({ ...s, isDone: async () => true })),
        journal,
        { beforeFirstChange: async () => void backups++ },
      );
      assert.deepEqual(again, { ran: 0, skipped: 4 });
      assert.equal(backups, 1);
    });
  });

  test("Ctrl-C (the signal aborted): nothing more starts, the running step finishes, exit 3", async () => {
    await withJournal(async (journal, dir) => {
      const log: string[] = [];
      const slow = gate();
      const interrupt = new AbortController();
      const steps = [
        step("a", log, {
          run: async () => {
            log.push("run a");
            await slow.promise;
          },
        }),
        step("b", log, { needs: ["a"] }),
      ];
      const running = run(steps, journal, { signal: interrupt.signal, resume: "kubeha rollback" });
      await sleep(10);
      interrupt.abort();
      slow.open();
      await assert.rejects(running, (err: unknown) => {
        assert.ok(err instanceof KubehaError);
        assert.equal(err.exitCode, ExitCode.interrupted);
        assert.match(err.message, /1 steps not started; run `kubeha rollback` again to resume/);
        return true;
      });
      assert.deepEqual(log, ["run a", "verify a"]);
      assert.deepEqual(await journalSteps(dir), ["started a", "done a"]);
    });
  });

  test("a stop at a step boundary (the lock lost) starts nothing more and is thrown as it is", async () => {
    await withJournal(async (journal) => {
      const log: string[] = [];
      let checks = 0;
      const lost = new KubehaError("lost the cluster lock");
      const steps = [step("a", log), step("b", log, { needs: ["a"] }), step("c", log, { needs: ["b"] })];
      await assert.rejects(
        run(steps, journal, {
          atStepBoundary: async () => {
            if (++checks === 2) throw lost;
          },
        }),
        (err: unknown) => err === lost,
      );
      assert.deepEqual(log, ["run a", "verify a"]);
    });
  });

  test("a graph that could never finish is refused before anything runs", async () => {
    await withJournal(async (journal) => {
      const log: string[] = [];
      let backups = 0;
      const opts = { beforeFirstChange: async () => void backups++ };
      await assert.rejects(
        run([step("a", log, { needs: ["b"] }), step("b", log, { needs: ["a"] })], journal, opts),
        /steps need each other: a → b → a/,
      );
      await assert.rejects(
        run([step("a", log, { needs: ["x"] })], journal, opts),
        /step a needs x, which is not in the plan/,
      );
      assert.deepEqual([log, backups], [[], 0]);
    });
  });
});
