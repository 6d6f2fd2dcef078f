import { mkdirSync, readFileSync, writeFileSync, renameSync } from "node:fs";
import { join } from "node:path";

/** "started" without a later outcome in a run that never finished: the step the run was in when it stopped. */
export type StepOutcome = "started" | "done" | "already-done" | "failed";

interface JournalFile {
  runs: {
    started: string;
    finished?: string;
    result?: string;
    steps: { id: string; outcome: StepOutcome; at: string; error?: string }[];
  }[];
}

/**
 * A record of what each run did, on the operator's machine. It explains the past; it never decides:
 * every step asks the live cluster whether it is done.
 */
export class Journal {
  private readonly file: string;
  private readonly data: JournalFile;
  private readonly run: JournalFile["runs"][number];

  constructor(stateDir: string) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.file = join(stateDir, "journal.json");
    let data: JournalFile = { runs: [] };
    try {
      data = JSON.parse(readFileSync(this.file, "utf8")) as JournalFile;
    } catch {
      // first run, or an unreadable journal: start a new one; the live state decides anyway
    }
    this.data = data;
    this.run = { started: new Date().toISOString(), steps: [] };
    this.data.runs.push(this.run);
    this.save();
  }

  get path(): string {
    return this.file;
  }

  record(id: string, outcome: StepOutcome, error?: string): void {
    this.run.steps.push({ id, outcome, at: new Date().toISOString(), ...(error ? { error } : {}) });
    this.save();
  }

  finish(result: string): void {
    this.run.finished = new Date().toISOString();
    this.run.result = result;
    this.save();
  }

  private save(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.data, null, 2), { mode: 0o600 });
    renameSync(tmp, this.file);
  }
}
