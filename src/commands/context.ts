import type { Reporter } from "../ui/reporter.js";

/** Every flag of every command, as the parser hands them over (absent when not given). */
export interface CommandOptions {
  inventory?: string;
  output?: "text" | "json";
  /** false with --no-color. */
  color?: boolean;
  logFile?: string;
  yes?: boolean;
  dryRun?: boolean;
  failover?: boolean;
  node?: string;
  out?: string;
  push?: boolean;
  force?: boolean;
  /** The operator's kubeconfig, scanned for references to the primary. */
  kubeconfig?: string;
  /** references --fix */
  fix?: boolean;
  /** plan --rollback */
  rollback?: boolean;
  /** The command's positional words: the masters `remove` and `replace` retire. */
  names?: string[];
  /** replace --with <new> */
  with?: string;
  /** remove/replace --address: the retired master's address when etcd and its Node do not say it. */
  address?: string;
  /** plan/apply --effects-json <file> (hidden): each step's effects, for the plan-equals-apply test. */
  effectsJson?: string;
}

/** What every command receives: its parsed flags and the reporter. Kept apart from src/cli.ts so commands do not import the entry point. */
export interface CommandContext {
  /** "apply", "certs-render": names the log file. */
  command: string;
  values: CommandOptions;
  reporter: Reporter;
  /** Set by the wizard when it has shown the plan apply is about to carry out: apply does not print it again. */
  planShown?: boolean;
}
