#!/usr/bin/env node
import { parseArgs, type ParseArgsConfig } from "node:util";
import { ExitCode, KubehaError } from "./errors.js";
import { Reporter } from "./ui/reporter.js";
import { redact } from "./ui/redact.js";
import "./ui/quiet-warnings.js";

/** What every command receives: its parsed flags and the reporter. */
export interface CommandContext {
  /** "apply", "certs render": names the log file. */
  command: string;
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
  reporter: Reporter;
}

interface Command {
  summary: string;
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  load(): Promise<{ run(ctx: CommandContext): Promise<ExitCode> }>;
}

const common = {
  inventory: { type: "string", short: "i" },
  output: { type: "string", short: "o" },
  "no-color": { type: "boolean" },
  "log-file": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const commands: Record<string, Command> = {
  discover: {
    summary: "read the live cluster and report what kubeha found (changes nothing)",
    usage: "kubeha discover -i INVENTORY [--output json]",
    options: { ...common },
    load: () => import("./commands/discover.js"),
  },
  plan: {
    summary: "compute every change apply would make, with diffs (changes nothing)",
    usage: "kubeha plan -i INVENTORY [--output json]",
    options: { ...common },
    load: () => import("./commands/plan.js"),
  },
  apply: {
    summary: "back up, then convert the cluster step by step; resumable, and a no-op when done",
    usage: "kubeha apply -i INVENTORY [--yes]",
    options: { ...common, yes: { type: "boolean", short: "y" } },
    load: () => import("./commands/apply.js"),
  },
  "certs render": {
    summary: "render one master's complete PKI (new or replacement) to a directory or onto the host",
    usage: "kubeha certs render --node NAME -i INVENTORY (--out DIR | --push) [--force]",
    options: {
      ...common,
      node: { type: "string" },
      out: { type: "string" },
      push: { type: "boolean" },
      force: { type: "boolean" },
    },
    load: async () => ({ run: (await import("./commands/certs.js")).runRender }),
  },
  "certs check": {
    summary: "check every master's certificates: chain, SANs (node and LB), expiry, key match",
    usage: "kubeha certs check -i INVENTORY [--output json]",
    options: { ...common },
    load: async () => ({ run: (await import("./commands/certs.js")).runCheck }),
  },
  wizard: {
    summary:
      "ask for the hosts (probing each over SSH), write the inventory, show the plan, ask before applying",
    usage: "kubeha wizard [-i FILE]   (FILE: where to write the inventory; default ./kubeha-inventory.yaml)",
    options: { ...common },
    load: () => import("./commands/wizard.js"),
  },
  verify: {
    summary: "check the end state: etcd voters and hashes, apiservers, certificates, files",
    usage: "kubeha verify -i INVENTORY [--output json] [--failover]",
    options: { ...common, failover: { type: "boolean" } },
    load: () => import("./commands/verify.js"),
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(14)} ${c.summary}`);
  return [
    "kubeha: convert a single-master kubeadm cluster into a highly-available one, over SSH.",
    "",
    "Commands:",
    ...lines,
    "",
    "Run `kubeha COMMAND --help` for a command's options. Exit codes: 0 done, 1 failed,",
    "2 bad input or refused by preflight, 3 interrupted and resumable.",
  ].join("\n");
}

async function main(argv: string[]): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? ExitCode.ok : ExitCode.badInput;
  }
  // "certs render" and "certs check" are two words.
  const key = name === "certs" && rest[0] && !rest[0].startsWith("-") ? `certs ${rest.shift()}` : name;
  const command = commands[key];
  if (!command) {
    console.error(`kubeha: unknown command "${key}"\n\n${usage()}`);
    return ExitCode.badInput;
  }
  let parsed;
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true });
  } catch (err) {
    console.error(`kubeha ${key}: ${(err as Error).message}\nusage: ${command.usage}`);
    return ExitCode.badInput;
  }
  const values = parsed.values as CommandContext["values"];
  if (values.help) {
    console.log(`usage: ${command.usage}\n\n${command.summary}`);
    return ExitCode.ok;
  }
  if (values.output !== undefined && values.output !== "json" && values.output !== "text") {
    console.error(`kubeha ${key}: --output must be "json" or "text", not "${String(values.output)}"`);
    return ExitCode.badInput;
  }
  const reporter = new Reporter({
    json: values.output === "json",
    color: !values["no-color"] && !process.env.NO_COLOR,
    logFile: typeof values["log-file"] === "string" ? values["log-file"] : undefined,
  });
  const module = await command.load();
  try {
    return await module.run({
      command: key.replace(" ", "-"),
      values,
      positionals: parsed.positionals,
      reporter,
    });
  } catch (err) {
    // Printed once by the entry point; the log keeps it too.
    reporter.debug(`failed: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  } finally {
    if (reporter.logFile) process.stderr.write(`kubeha: full log in ${reporter.logFile}\n`);
  }
}

// Exit explicitly: a half-closed SSH connection must not keep a finished run alive.
main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`kubeha: ${redact(message)}\n`);
    if (process.env.KUBEHA_DEBUG && err instanceof Error && err.stack) {
      process.stderr.write(redact(err.stack) + "\n");
    }
    process.exit(err instanceof KubehaError ? err.exitCode : ExitCode.failed);
  },
);
