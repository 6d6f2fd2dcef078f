#!/usr/bin/env node
// The entry point: parses the command line (commander) and hands each command to src/commands/.
import { readFileSync } from "node:fs";
import { Command, CommanderError, Option } from "commander";
import type { CommandContext, CommandOptions } from "./commands/context.js";
import { ExitCode, KubehaError } from "./errors.js";
import { Reporter } from "./ui/reporter.js";
import { redact } from "./ui/redact.js";
import { forStream } from "./ui/wrap.js";
import "./ui/quiet-warnings.js";

type Run = (ctx: CommandContext) => Promise<ExitCode>;

interface Spec {
  /** "apply", or "render" under "certs". */
  name: string;
  summary: string;
  /** What -i means for this command. */
  inventory?: string;
  /** Positional arguments ("<old>", "<masters...>"), handed over as `names`. */
  args?: string;
  options?: Option[];
  /** Loaded only when the command runs: `--help` and `--version` stay fast. */
  load(values: CommandOptions): Promise<Run>;
}

const plan = async () => (await import("./commands/plan.js")).run;

/** The operator's own kubeconfig, scanned with the cluster for references to the primary. */
const kubeconfigOption = () =>
  new Option("--kubeconfig <file>", "also look in this kubeconfig (yours) for references to the primary");

/** For the plan-equals-apply test: each step's effects as JSON. Not for operators, so not in the help. */
const effectsOption = () => new Option("--effects-json <file>").hideHelp();

const specs: Spec[] = [
  {
    name: "discover",
    summary: "read the live cluster and report what kubeha found (changes nothing)",
    options: [kubeconfigOption()],
    load: async () => (await import("./commands/discover.js")).run,
  },
  {
    name: "plan",
    summary: "compute every change apply would make, with diffs (changes nothing)",
    options: [
      new Option("--rollback", "the plan of `kubeha rollback` instead"),
      kubeconfigOption(),
      effectsOption(),
    ],
    load: plan,
  },
  {
    name: "apply",
    summary: "back up, then convert the cluster step by step; resumable, and a no-op when done",
    options: [
      new Option("-y, --yes", "do not ask before changing anything (needed without a terminal)"),
      new Option("--dry-run", "change nothing: exactly what `kubeha plan` does"),
      kubeconfigOption(),
      effectsOption(),
    ],
    load: async (values) => (values.dryRun ? plan() : (await import("./commands/apply.js")).run),
  },
  {
    name: "rollback",
    summary:
      "return the cluster to its primary alone: clients back to it, the other masters out, the LB removed",
    options: [
      new Option("-y, --yes", "do not ask before changing anything (needed without a terminal)"),
      new Option("--dry-run", "change nothing: exactly what `kubeha plan --rollback` does"),
    ],
    load: async () => (await import("./commands/rollback.js")).run,
  },
  {
    name: "replace",
    args: "<old>",
    summary: "retire master <old> (dead or alive) and join <new>, which takes its place in the inventory",
    options: [
      new Option("--with <new>", "the inventory master that takes <old>'s place").makeOptionMandatory(),
      new Option("--address <ip>", "<old>'s address, when neither its etcd member nor its Node says it"),
      new Option("-y, --yes", "do not ask before changing anything (needed without a terminal)"),
      new Option("--dry-run", "change nothing: show the plan"),
    ],
    load: async () => (await import("./commands/retire.js")).runReplace,
  },
  {
    name: "remove",
    args: "<masters...>",
    summary: "retire masters no longer in the inventory, one etcd member at a time (shrink 5 to 3)",
    options: [
      new Option("--address <ip>", "the master's address, when neither its etcd member nor its Node says it"),
      new Option("-y, --yes", "do not ask before changing anything (needed without a terminal)"),
      new Option("--dry-run", "change nothing: show the plan"),
    ],
    load: async () => (await import("./commands/retire.js")).runRemove,
  },
  {
    name: "verify",
    summary: "check the end state: etcd voters and hashes, apiservers, certificates, files",
    options: [
      new Option("--failover", "also stop the primary's control plane to prove failover"),
      kubeconfigOption(),
    ],
    load: async () => (await import("./commands/verify.js")).run,
  },
  {
    name: "references",
    summary:
      "find what still points at the primary's apiserver directly (objects, host files, your kubeconfig); --fix makes the safe edits",
    options: [
      new Option("--fix", "make the safe edits (ConfigMap values, DaemonSet env), shown as diffs first"),
      new Option("-y, --yes", "with --fix: do not ask (needed without a terminal)"),
      kubeconfigOption(),
    ],
    load: async () => (await import("./commands/references.js")).run,
  },
  {
    name: "wizard",
    summary:
      "ask for the hosts (probing each over SSH), write the inventory, show the plan, ask before applying",
    inventory: "where to write the inventory (default ./kubeha-inventory.yaml)",
    load: async () => (await import("./commands/wizard.js")).run,
  },
];

const certSpecs: Spec[] = [
  {
    name: "render",
    summary: "render one master's complete PKI (new or replacement) to a directory or onto the host",
    options: [
      new Option("--node <name>", "the master to render for (a name from the inventory)"),
      new Option("--out <dir>", "write the files under this directory"),
      new Option(
        "--push",
        "write the files onto the node under /etc/kubernetes (backing up what they replace)",
      ),
      new Option("--force", "re-issue certificates that are still valid"),
    ],
    load: async () => (await import("./commands/certs.js")).runRender,
  },
  {
    name: "check",
    summary: "check every master's certificates: chain, SANs (node and LB), expiry, key match",
    load: async () => (await import("./commands/certs.js")).runCheck,
  },
];

const FOOTER = `
Exit codes: 0 done, 1 failed, 2 bad input or refused by preflight (nothing was changed),
3 interrupted and resumable.
Environment: NO_COLOR (any value) turns colours and the live progress line off;
KUBEHA_DEBUG (any value) prints the stack of an error.`;

/** Read at run time from the installed package, so it cannot drift from package.json. */
function packageVersion(): string {
  const file = new URL("../../package.json", import.meta.url);
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

/**
 * Usage errors are kubeha's one-line errors, naming the command: exit 2 (set by main), never
 * commander's "error: ..." on several lines.
 */
function kubehaErrors(cmd: Command, path: string): Command {
  const name = path ? `kubeha ${path}` : "kubeha";
  return cmd.exitOverride().configureOutput({
    outputError: (message, write) => {
      const text = message
        .replace(/^error: /, "")
        .replace(/\s*\n\s*/g, " ")
        .replace(/\.?\s*$/, "");
      write(`${name}: ${text}; see \`${name} --help\`\n`);
    },
  });
}

function addCommand(parent: Command, path: string, spec: Spec, done: (code: ExitCode) => void): void {
  const cmd = kubehaErrors(parent.command(spec.name), path).description(spec.summary);
  cmd
    .option("-i, --inventory <file>", spec.inventory ?? "the inventory file")
    .addOption(
      new Option("-o, --output <format>", "json: one JSON document on stdout, progress on stderr").choices([
        "text",
        "json",
      ]),
    )
    .option("--no-color", "no colours and no live progress line")
    .option("--log-file <file>", "write the full log there instead of <stateDir>/logs/");
  for (const o of spec.options ?? []) cmd.addOption(o);
  if (spec.args) cmd.argument(spec.args);
  // Extra words are taken in so that the refusal can name them.
  cmd.allowExcessArguments().action(async (...params: unknown[]) => {
    const self = params.at(-1) as Command;
    const values: CommandOptions = {
      ...self.opts<CommandOptions>(),
      ...(spec.args ? { names: self.args } : {}),
    };
    if (!spec.args && self.args.length) {
      const words = self.args.map((a) => `'${a}'`).join(" ");
      self.error(`unexpected ${self.args.length === 1 ? "argument" : "arguments"} ${words}`, {
        code: "kubeha.excessArguments",
      });
    }
    // The log is named after what runs: `apply --dry-run` is `plan`, in its log file too.
    const command = values.dryRun ? "plan" : path.replace(" ", "-");
    done(await execute(command, values, await spec.load(values)));
  });
}

async function execute(command: string, values: CommandOptions, run: Run): Promise<ExitCode> {
  const reporter = new Reporter({
    json: values.output === "json",
    color: values.color !== false && !process.env.NO_COLOR,
    logFile: values.logFile,
  });
  try {
    return await run({ command, values, reporter });
  } catch (err) {
    // Printed once by the entry point; the log keeps it too.
    reporter.debug(`failed: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  } finally {
    if (reporter.logFile)
      process.stderr.write(`${forStream(`kubeha: full log in ${reporter.logFile}`, process.stderr)}\n`);
  }
}

async function main(argv: string[]): Promise<ExitCode> {
  let code: ExitCode = ExitCode.ok;
  const done = (c: ExitCode) => (code = c);
  const program = kubehaErrors(new Command("kubeha"), "")
    .description("Convert a single-master kubeadm cluster into a highly-available one, over SSH.")
    .version(packageVersion(), "-V, --version", "print kubeha's version")
    .addHelpText("after", FOOTER);
  for (const spec of specs) addCommand(program, spec.name, spec, done);
  const certs = kubehaErrors(program.command("certs"), "certs").description(
    "render one master's certificates, or check every master's",
  );
  for (const spec of certSpecs) addCommand(certs, `certs ${spec.name}`, spec, done);
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    // --help and --version end with exit code 0; every other parser error is bad input.
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.ok : ExitCode.badInput;
    throw err;
  }
  return code;
}

// Exit explicitly: a half-closed SSH connection must not keep a finished run alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`${forStream(`kubeha: ${redact(message)}`, process.stderr)}\n`);
    if (process.env.KUBEHA_DEBUG && err instanceof Error && err.stack) {
      process.stderr.write(redact(err.stack) + "\n");
    }
    process.exit(err instanceof KubehaError ? err.exitCode : ExitCode.failed);
  },
);
