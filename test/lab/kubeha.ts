// Running the real kubeha CLI from the lab's workstation namespace, and inventory variants for tests.
import { spawn, type ChildProcess } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { Lab } from "./lab.js";
import { REPO } from "./hosts.js";

export const CLI = join(REPO, "dist/src/cli.js");

/** A parsed inventory, edited freely by tests. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type InventoryYaml = Record<string, any>;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** `kubeha ARGS` in the workstation namespace, as an operator would run it. */
export function kubeha(lab: Lab, args: string[], options: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn("ip", ["netns", "exec", lab.wsNs, process.execPath, CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => err.push(c));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 180_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
        ms: Date.now() - t0,
      });
    });
  });
}

/**
 * Starts `kubeha ARGS` and kills it with SIGKILL as soon as its output matches `when`: an operator's
 * Ctrl-C, a dropped session or a crashed machine at that exact point.
 */
export function kubehaKilledAt(
  lab: Lab,
  args: string[],
  when: RegExp,
  signal: NodeJS.Signals = "SIGKILL",
  timeoutMs = 120_000,
): Promise<CliResult & { killed: boolean }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child: ChildProcess = spawn("ip", ["netns", "exec", lab.wsNs, process.execPath, CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let text = "";
    let killed = false;
    const onData = (c: Buffer) => {
      text += c.toString();
      if (!killed && when.test(text)) {
        killed = true;
        child.kill(signal);
      }
    };
    child.stdout!.on("data", onData);
    child.stderr!.on("data", onData);
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 137, stdout: text, stderr: "", ms: Date.now() - t0, killed });
    });
  });
}

/**
 * `kubeha ARGS` in the workstation, calling `action` once (without stopping the run) as soon as its
 * output matches `when`: a change made under a running kubeha (a link cut, a lease taken). Resolves
 * when kubeha exits and `action` has finished; `acted` says whether `when` was ever seen.
 */
export function kubehaActingAt(
  lab: Lab,
  args: string[],
  when: RegExp,
  action: () => Promise<void>,
  timeoutMs = 300_000,
): Promise<CliResult & { acted: boolean }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn("ip", ["netns", "exec", lab.wsNs, process.execPath, CLI, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stdout = "";
    let stderr = "";
    let acting: Promise<void> | undefined;
    const check = () => {
      if (!acting && when.test(stdout + stderr)) acting = action();
    };
    child.stdout!.on("data", (c: Buffer) => ((stdout += c.toString()), check()));
    child.stderr!.on("data", (c: Buffer) => ((stderr += c.toString()), check()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      const result = { code: code ?? 137, stdout, stderr, ms: Date.now() - t0, acted: acting !== undefined };
      (acting ?? Promise.resolve()).then(() => resolve(result), reject);
    });
  });
}

/** A copy of the lab's inventory changed by `mutate`, written next to it. */
export async function inventoryVariant(
  lab: Lab,
  name: string,
  mutate: (inv: InventoryYaml) => void,
): Promise<string> {
  const inv = parse(readFileSync(lab.inventoryFile, "utf8")) as InventoryYaml;
  mutate(inv);
  const path = join(lab.dir, `inventory-${name}.yaml`);
  await writeFile(path, stringify(inv));
  return path;
}

/** The host entry of `name` in a parsed inventory. */
export function hostEntry(inv: InventoryYaml, name: string): InventoryYaml {
  const all = [inv.primary, ...(inv.masters ?? []), inv.loadBalancer, ...(inv.workers ?? [])];
  const h = all.find((x) => x?.name === name);
  if (!h) throw new Error(`no host ${name} in the inventory`);
  return h;
}
