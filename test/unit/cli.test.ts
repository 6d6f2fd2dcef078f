// The command line as an operator meets it: the built dist/src/cli.js run as a child process, as
// `npx kubeha` would run it. Nothing here reaches a host: every case ends before an inventory is read.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

const CLI = fileURLToPath(new URL("../../src/cli.js", import.meta.url));
const PACKAGE = new URL("../../../package.json", import.meta.url);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `file args` and resolves with whatever exit code it ends with. */
function run(file: string, args: string[]): Promise<Result> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: { ...process.env, NO_COLOR: "1" }, timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err && typeof err.code !== "number") return reject(err);
        resolve({ code: typeof err?.code === "number" ? err.code : 0, stdout, stderr });
      },
    );
  });
}

const kubeha = (...args: string[]) => run(process.execPath, [CLI, ...args]);

const COMMON = ["-i, --inventory", "-o, --output", "--no-color", "--log-file", "-h, --help"];
/** Each command and the flags its --help must list besides the common ones. */
const COMMANDS: [string[], string[]][] = [
  [["discover"], []],
  [["plan"], []],
  [["apply"], ["-y, --yes", "--dry-run"]],
  [["verify"], ["--failover"]],
  [["wizard"], []],
  [
    ["certs", "render"],
    ["--node <name>", "--out <dir>", "--push", "--force"],
  ],
  [["certs", "check"], []],
];
const ALL_OWN = COMMANDS.flatMap(([, own]) => own);

/** A usage error: exit 2, and on stderr exactly one line, naming the command. */
function assertRefused(r: Result, command: string, names: RegExp): void {
  assert.equal(r.code, 2, `exit ${r.code}: ${r.stderr}`);
  assert.equal(r.stdout, "");
  const lines = r.stderr.split("\n").filter(Boolean);
  assert.equal(lines.length, 1, `one line, not:\n${r.stderr}`);
  assert.ok(lines[0]!.startsWith(`kubeha ${command}: `), lines[0]);
  assert.match(lines[0]!, names);
}

describe("kubeha command line", () => {
  test("the build leaves dist/src/cli.js executable, and it runs by itself (npx kubeha)", async () => {
    const mode = statSync(CLI).mode;
    assert.equal(mode & 0o111, 0o111, `mode ${(mode & 0o777).toString(8)}`);
    assert.ok(readFileSync(CLI, "utf8").startsWith("#!/usr/bin/env node\n"));
    const r = await run(CLI, ["--version"]);
    assert.equal(r.code, 0, r.stderr);
  });

  test("--version prints the version of package.json", async () => {
    const { version } = JSON.parse(readFileSync(PACKAGE, "utf8")) as { version: string };
    const r = await kubeha("--version");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, `${version}\n`);
  });

  test("--help lists every command; no command at all is refused with the same list", async () => {
    const help = await kubeha("--help");
    assert.equal(help.code, 0, help.stderr);
    for (const [words] of COMMANDS) assert.match(help.stdout, new RegExp(`^  ${words[0]}\\b`, "m"));
    assert.match(help.stdout, /Exit codes: 0 done, 1 failed, 2 bad input/);
    const none = await kubeha();
    assert.equal(none.code, 2);
    assert.match(none.stderr, /^Usage: kubeha /);
  });

  for (const [words, own] of COMMANDS) {
    const name = words.join(" ");

    test(`${name} --help lists its own flags and no other command's`, async () => {
      const r = await kubeha(...words, "--help");
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.startsWith(`Usage: kubeha ${name} [options]\n`), r.stdout);
      for (const flag of [...COMMON, ...own])
        assert.ok(r.stdout.includes(`  ${flag}`), `${flag} in:\n${r.stdout}`);
      for (const flag of ALL_OWN.filter((f) => !own.includes(f))) {
        assert.ok(!r.stdout.includes(`  ${flag}`), `${flag} is not a flag of ${name}`);
      }
    });

    test(`${name}: an unknown flag is refused with exit 2, in one line naming it`, async () => {
      assertRefused(await kubeha(...words, "-i", "inv.yaml", "--bogus-flag"), name, /'--bogus-flag'/);
    });

    test(`${name}: an unexpected argument is refused with exit 2, in one line naming it`, async () => {
      assertRefused(await kubeha(...words, "-i", "inv.yaml", "stray-word"), name, /'stray-word'/);
    });
  }

  test("an unknown command, and --output other than text or json, are refused in one line", async () => {
    assertRefused(await kubeha("certs", "renew"), "certs", /'renew'/);
    const r = await kubeha("bogus");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^kubeha: unknown command 'bogus'; see `kubeha --help`\n$/);
    assertRefused(await kubeha("plan", "-i", "inv.yaml", "--output", "yaml"), "plan", /'yaml'.*text, json/);
  });

  test("apply --dry-run is plan: same output and exit code, here for an inventory that is not there", async () => {
    const missing = "/nonexistent/kubeha-inventory.yaml";
    const plan = await kubeha("plan", "-i", missing);
    const dry = await kubeha("apply", "--dry-run", "-i", missing);
    assert.equal(plan.code, 2);
    assert.match(plan.stderr, new RegExp(`inventory ${missing}: cannot read it`));
    assert.deepEqual(dry, plan);
  });
});
