// `kubeha wizard` driven through a real terminal (tmux: send-keys to type, capture-pane to read) from
// the lab's workstation, as an operator would use it. Root only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseInventory } from "../../src/inventory/index.js";
import { startLab, type Lab } from "./lab.js";
import { REPO } from "./hosts.js";
import { labSkip } from "../helpers/skip.js";

const run = promisify(execFile);

const skip = labSkip(", tmux in the workstation namespace");

/** One tmux server of our own (its own socket), so no other tmux session or environment leaks in. */
class Terminal {
  private constructor(
    private readonly socket: string,
    private readonly session: string,
  ) {}

  /** Starts `command` in a 200x50 terminal; when it ends, the pane says "[wizard exited N]" and stays. */
  static async start(name: string, command: string, cwd: string): Promise<Terminal> {
    const t = new Terminal(`kubeha-test-${process.pid}-${name}`, name);
    await t.tmux(
      "new-session",
      "-d",
      "-s",
      name,
      "-x",
      "200",
      "-y",
      "50",
      "-c",
      cwd,
      `${command}; echo "[wizard exited $?]"; sleep 3600`,
    );
    return t;
  }

  private async tmux(...args: string[]): Promise<string> {
    const { stdout } = await run("tmux", ["-L", this.socket, ...args]);
    return stdout;
  }

  /** Everything the terminal has shown (scrollback included), wrapped lines joined. */
  screen(): Promise<string> {
    return this.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", this.session);
  }

  /** Types text literally (no key names), optionally followed by Enter. */
  async type(text: string, enter = true): Promise<void> {
    if (text) await this.tmux("send-keys", "-t", this.session, "-l", text);
    if (enter) await this.tmux("send-keys", "-t", this.session, "Enter");
  }

  async key(name: string): Promise<void> {
    await this.tmux("send-keys", "-t", this.session, name);
  }

  /** Polls the screen until `test` holds; fails with the screen when it does not within `ms`. */
  async until(what: string, test: (screen: string) => boolean, ms = 60_000): Promise<string> {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = await this.screen();
      if (test(s)) return s;
      if (Date.now() > deadline) assert.fail(`terminal: waited ${ms / 1000}s for ${what}; it shows:\n${s}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Answers the question that starts with `question` once it is the active one ("? question"), then
   * waits until inquirer has taken the answer (the line turns into "✔ question ...").
   */
  async answer(question: string, text: string, ms = 60_000): Promise<string> {
    const done = (s: string) => count(s, `✔ ${question}`);
    const before = done(await this.screen());
    await this.until(`the question "${question}"`, (s) => lastLine(s).startsWith(`? ${question}`), ms);
    await this.type(text);
    return this.until(`"${question}" to be answered`, (s) => done(s) > before, 10_000);
  }

  async exitCode(ms = 120_000): Promise<number> {
    const s = await this.until("the wizard to exit", (x) => /\[wizard exited \d+\]/.test(x), ms);
    return Number(/\[wizard exited (\d+)\]/.exec(s)![1]);
  }

  async kill(): Promise<void> {
    await this.tmux("kill-server").catch(() => undefined);
  }
}

function count(text: string, needle: string): number {
  return text.split("\n").filter((l) => l.startsWith(needle)).length;
}

function lastLine(screen: string): string {
  const lines = screen.split("\n").filter((l) => l.trim());
  // An active input prompt is the last line; a select or a validation message may follow it.
  return lines.findLast((l) => /^[?✔] /.test(l)) ?? "";
}

describe("kubeha wizard in a terminal", { skip }, () => {
  let lab: Lab | undefined;
  let dir = "";
  const terminals: Terminal[] = [];
  const L = (): Lab => {
    if (!lab) throw new Error("lab did not start");
    return lab;
  };
  const wizard = async (name: string): Promise<Terminal> => {
    const t = await Terminal.start(
      name,
      `ip netns exec ${L().wsNs} node ${join(REPO, "dist/src/cli.js")} wizard`,
      dir,
    );
    terminals.push(t);
    return t;
  };

  before(async () => {
    lab = await startLab({ workers: 1, bulkKeys: 0 });
    dir = await mkdtemp(join(tmpdir(), "kubeha-wizard-"));
  });
  after(async () => {
    for (const t of terminals) await t.kill();
    await lab?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("asks, catches an unreachable address at the question, writes an inventory plan accepts", async () => {
    const l = L();
    const host = (name: string) => l.host(name);
    const unreachable = l.primary.address.replace(/\.\d+$/, ".250");
    assert.ok(!l.hosts.some((h) => h.address === unreachable));
    const out = join(dir, "cluster.yaml");
    const t = await wizard("full");

    await t.answer("Address of the primary", l.primary.address);
    await t.answer("SSH user on the primary", l.primary.sshUser);
    await t.answer("SSH private key", l.identityFile);
    await t.answer("kubeha is not root: use passwordless sudo", "");
    await t.answer("SSH port", "");
    await t.answer("known_hosts file", l.knownHostsFile);
    await t.answer("Accept and record host keys", "n");

    // The primary was probed: what discovery found is shown, and the node name defaults to it.
    let s = await t.until("the discovered cluster", (x) => x.includes("Found on"), 90_000);
    await t.answer("Kubernetes node name of the primary", "");
    s = await t.screen();
    assert.match(s, /Kubernetes +1\.31\.2/);
    assert.match(s, /service CIDR +10\.96\.0\.0\/12/);
    assert.match(s, /etcd members +master-1 /);
    assert.match(s, /✔ Kubernetes node name of the primary: master-1/);

    await t.answer("How many new control-plane hosts", "");
    await t.answer("Node name of new master 1 of 2", "");
    await t.answer("Address of master-2", unreachable);
    await t.answer("SSH user on master-2", host("master-2").sshUser);
    // The wrong address is refused within seconds, said in one line, and asked again.
    const t0 = Date.now();
    s = await t.until(
      "the probe of the unreachable address to fail",
      (x) => x.includes(`error: host master-2 (${unreachable}:22):`),
      20_000,
    );
    const refusedMs = Date.now() - t0;
    assert.ok(refusedMs < 10_000, `took ${refusedMs} ms to refuse ${unreachable}`);
    assert.match(
      s,
      new RegExp(
        `host master-2 \\(${unreachable.replace(/\./g, "\\.")}:22\\): (host unreachable|connection timed out)`,
      ),
    );
    await t.answer("Address of master-2", host("master-2").address);
    s = await t.until("master-2 to be probed", (x) => x.includes("✓ master-2:"));
    assert.match(s, /✓ master-2: .*kubelet 1\.31\.2/);

    await t.answer("Node name of new master 2 of 2", "");
    await t.answer("Address of master-3", host("master-3").address);
    await t.answer("SSH user on master-3", ""); // the primary's user (kubeha, with sudo)

    await t.answer("Node name of the load balancer host", "");
    await t.answer("Address of lb", host("lb").address);
    await t.answer("SSH user on lb", host("lb").sshUser);
    s = await t.until("the load balancer to be probed", (x) => x.includes("✓ lb:"));
    assert.match(s, /✓ lb: .*nginx .*stream module/);
    await t.answer("Address clients use for the API", "");
    await t.answer("DNS name for the API", l.lbDnsName);
    await t.answer("Port clients connect to", "");

    await t.answer("Add workers?", "y");
    await t.answer("Node name of worker 1", "");
    await t.answer("Address of worker-1", host("worker-1").address);
    await t.answer("SSH user on worker-1", host("worker-1").sshUser);
    await t.answer("Add another worker?", "");

    await t.answer("Write the inventory to", out);
    await t.answer("Apply this plan now?", "n", 180_000);
    const code = await t.exitCode();
    s = await t.screen();
    assert.equal(code, 0, s);
    assert.match(s, /not applied; nothing was changed/);

    // The file: the documented schema, commented, the key named by path only.
    const text = await readFile(out, "utf8");
    assert.match(text, /^# kubeha inventory, written by `kubeha wizard`/);
    assert.ok(text.includes(`identityFile: ${l.identityFile}`), text);
    assert.doesNotMatch(text, /PRIVATE KEY/);
    const parsed = parseInventory(text, out);
    assert.ok("inventory" in parsed, JSON.stringify("errors" in parsed && parsed.errors));
    const inv = parsed.inventory;
    assert.deepEqual(
      [inv.primary, ...inv.masters, ...inv.loadBalancer.hosts, ...inv.workers].map((h) => [
        h.name,
        h.address,
        h.ssh.user,
        h.ssh.sudo,
      ]),
      ["master-1", "master-2", "master-3", "lb", "worker-1"].map((n) => [
        n,
        host(n).address,
        host(n).sshUser,
        host(n).sudo,
      ]),
    );
    assert.equal(inv.loadBalancer.dnsName, l.lbDnsName);
    assert.equal(inv.loadBalancer.port, 6443);

    // ... which `plan` accepts on its own.
    const plan = await l.wsExec(["node", join(REPO, "dist/src/cli.js"), "plan", "-i", out]);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    // Nothing was changed on the new masters.
    assert.equal((await l.exec("master-2", ["ls", "-A", "/etc/kubernetes/manifests"])).stdout.trim(), "");
  });

  test("Ctrl-C at the first question: says nothing was changed, writes nothing, exit 2", async () => {
    const before = await readdir(dir);
    const t = await wizard("cancel");
    await t.until("the first question", (x) => lastLine(x).startsWith("? Address of the primary"));
    await t.key("C-c");
    const code = await t.exitCode(20_000);
    const s = await t.screen();
    assert.equal(code, 2, s);
    assert.match(s, /wizard cancelled: nothing was changed/);
    assert.deepEqual(await readdir(dir), before);
    assert.equal(existsSync(join(dir, "kubeha-inventory.yaml")), false);
  });
});
