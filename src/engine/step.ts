import type { StepContext } from "./step-context.js";

/** A file a step writes, as the plan shows it. Secrets are shown by description only. */
export interface FileChange {
  host: string;
  path: string;
  mode: number;
  secret: boolean;
  /** Current content (undefined: the file does not exist yet); never set for secrets. */
  before?: string;
  /** New content; for secrets and certificates a description ("RSA key, 0600", "CN=…, SANs …"). */
  after: string;
}

/**
 * One unit of work on one host. A step asks the live state whether it is already done, so a
 * resumed or repeated run skips it; after running, it checks its own result.
 */
export interface Step {
  /** Stable across runs: "etcd/master-2". */
  id: string;
  phase: string;
  host: string;
  title: string;
  why: string;
  /** Files as the plan shows them (computed when the plan is built; reads only). */
  files: FileChange[];
  /** Extra plan lines: etcd membership changes, ConfigMap diffs, waits. */
  details: string[];
  /** Ids of the steps that must be finished (done, or found done) before this one starts. */
  needs?: string[];
  /**
   * What this step must hold alone while it runs ("etcd-membership"): two steps naming the same
   * resource never run at once, whatever their order in the graph.
   */
  exclusive?: string[];
  /**
   * The step only waits for something to hold and changes nothing: it takes no slot on its host, so
   * the host's next change need not wait for it (the per-host limit keeps changes apart), and once a
   * run reaches it, it runs even if `isDone` would now say yes (waiting for what holds is one look).
   */
  waitsOnly?: boolean;
  /** True when the live state already is what this step would make it. Reads only. */
  isDone(ctx: StepContext): Promise<boolean>;
  /**
   * Work with no effect on any host (generating keys) that may start early: started for every step
   * still to run with the backup (`startPreparing`), not awaited, so it runs while the backup streams.
   */
  prepare?(ctx: StepContext): Promise<void>;
  /**
   * Checks that change nothing the cluster uses and must pass before the run's first change (the new
   * nginx configuration, tested on a copy): a failure refuses the whole run, nothing changed.
   */
  check?(ctx: StepContext): Promise<void>;
  run(ctx: StepContext): Promise<void>;
  /**
   * Throws when the result is not what it should be; may say what it found (`kubeha verify` shows it).
   * `kubeha verify` is every step's verify, so this is the whole check of what the step makes.
   */
  verify(ctx: StepContext): Promise<string | void>;
  /** What undoing this step by hand means, for the plan and the failure report. */
  rollback: string;
  /** The same, from the live state, for the failure report (when it depends on what happened). */
  undo?(ctx: StepContext): Promise<string>;
}
