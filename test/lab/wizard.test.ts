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
import { writeKnownHosts } from "./sshd.js";
import { labSkip } from "../helpers/skip.js";

const run = promisify(execFile);

const skip = labSkip(", tmux in the workstation namespace");

/** One tmux server of our own (its own socket), so no other tmux session or environment leaks in. */
class Terminal {
  private constructor(
    private readonly socket: string,
    private readonly session: string,
  ) {}

  /** Starts `command` in a `width`x50 terminal; when it ends, the pane says "[wizard exited N]" and stays. */
  static async start(name: string, command: string, cwd: string, width = 200): Promise<Terminal> {
    const t = new Terminal(`kubeha-test-${process.pid}-${name}`, name);
    await t.tmux(
      "new-session",
      "-d",
      "-s",
      name,
      "-x",
      String(width),
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

  /** Moves through a list question with `keys` ("Down", "Space") and accepts it with Enter. */
  async choose(question: string, keys: string[] = [], ms = 60_000): Promise<string> {
    const done = (s: string) => count(s, `✔ ${question}`);
    const before = done(await this.screen());
    await this.until(`the question "${question}"`, (s) => lastLine(s).startsWith(`? ${question}`), ms);
    for (const k of keys) await this.key(k);
    await this.key("Enter");
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

/**
 * The questions on the screen, each on one line: inquirer's "? question" or "✔ question answer" with
 * the lines the wizard wrapped it into (they hang two spaces in) joined again.
 */
function questions(screen: string): string[] {
  const out: string[] = [];
  for (const l of screen.split("\n")) {
    if (/^[?✔] /.test(l)) out.push(l);
    else if (out.length && /^ {2}\S/.test(l) && /^[?✔] /.test(out.at(-1)!))
      out[out.length - 1] += ` ${l.trim()}`;
    else if (l.trim()) out.push("");
  }
  return out.filter(Boolean);
}

function count(text: string, needle: string): number {
  return questions(text).filter((l) => l.startsWith(needle)).length;
}

/** The screen with the lines kubeha wrapped at the terminal's width joined again. */
function flat(screen: string): string {
  return screen.replace(/ *\n */g, " ");
}

function lastLine(screen: string): string {
  // An active prompt is the last question; a select's choices or a validation message may follow it.
  return questions(screen).at(-1) ?? "";
}

describe("kubeha wizard in a terminal", { skip }, () => {
  let lab: Lab | undefined;
  let dir = "";
  const terminals: Terminal[] = [];
  const L = (): Lab => {
    if (!lab) throw new Error("lab did not start");
    return lab;
  };
  const wizard = async (name: string, width?: number): Promise<Terminal> => {
    const t = await Terminal.start(
      name,
      `ip netns exec ${L().wsNs} node ${join(REPO, "dist/src/cli.js")} wizard`,
      dir,
      width,
    );
    terminals.push(t);
    return t;
  };

  before(async () => {
    lab = await startLab({ workers: 2, bulkKeys: 0 });
    dir = await mkdtemp(join(tmpdir(), "kubeha-wizard-"));
  });
  after(async () => {
    for (const t of terminals) await t.kill();
    await lab?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test("at 80 columns: asks, offers the Nodes as workers, removes an extra one, records host keys only once confirmed, shows a plan that fits", async () => {
    const l = L();
    const host = (name: string) => l.host(name);
    const unreachable = l.primary.address.replace(/\.\d+$/, ".250");
    assert.ok(!l.hosts.some((h) => h.address === unreachable));
    const out = join(dir, "cluster.yaml");
    // Only the primary's key is known: every other key is accepted during the questions.
    const knownHosts = join(dir, "known_hosts");
    await writeKnownHosts([l.primary], knownHosts);
    const knownBefore = await readFile(knownHosts, "utf8");
    const t = await wizard("full", 80);

    await t.answer("Address of the primary", l.primary.address);
    await t.answer("SSH user on the primary", l.primary.sshUser);
    await t.answer("SSH private key", l.identityFile);
    await t.answer("kubeha is not root: use passwordless sudo", "");
    await t.answer("SSH port", "");
    await t.answer("known_hosts file", knownHosts);
    await t.answer("Accept host keys not yet in it", "y");

    // The primary was probed: what discovery found is shown, and the node name defaults to it.
    let s = await t.until("the discovered cluster", (x) => x.includes("Found on"), 90_000);
    await t.answer("Kubernetes node name of the primary", "");
    s = await t.screen();
    assert.match(s, /Kubernetes +1\.31\.2/);
    assert.match(s, /service CIDR +10\.96\.0\.0\/12/);
    assert.match(s, /etcd members +master-1 /);
    assert.match(s, /other nodes +worker-1, worker-2/);
    assert.match(s, /✔ Kubernetes node name of the primary: master-1/);

    await t.choose("How many new control-plane hosts");
    // A wrong count needs no Ctrl-C: an empty first address goes back to it (its default the last answer).
    await t.answer("Address of new master 1 of 2", "");
    await t.choose("How many new control-plane hosts");
    await t.answer("Address of new master 1 of 2", unreachable);
    await t.answer("SSH user on new master 1 of 2", host("master-2").sshUser);
    // The wrong address is refused within seconds, said in one line, and asked again with the
    // last answer as its default.
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
    s = await t.until("the address asked again", (x) =>
      lastLine(x).startsWith("? Address of new master 1 of 2"),
    );
    assert.ok(lastLine(s).includes(`(${unreachable})`), lastLine(s));
    await t.answer("Address of new master 1 of 2", host("master-2").address);
    s = await t.until("master-2 to be probed", (x) => x.includes("(hostname master-2):"));
    assert.match(flat(s), /✓ \S+ \(hostname master-2\): [^✓?]*kubelet 1\.31\.2/);
    // The node name offered is the hostname the probe read.
    s = await t.answer("Node name of new master 1 of 2 (its hostname: master-2)", "");
    assert.match(s, /✔ Node name of new master 1 of 2 \(its hostname: master-2\): master-2/);

    await t.answer("Address of new master 2 of 2", host("master-3").address);
    await t.answer("SSH user on new master 2 of 2", ""); // the primary's user (kubeha, with sudo)
    await t.answer("Node name of new master 2 of 2 (its hostname: master-3)", "");

    // The layouts, one line each; Enter takes today's: nginx on its own host.
    s = await t.until("the load-balancer layouts", (x) => lastLine(x).startsWith("? How do clients reach"));
    for (const line of [
      "nginx on its own host",
      "nginx on a master, port 8443",
      "keepalived VIP",
      "external",
    ])
      assert.ok(s.includes(line), `layout "${line}" not offered:\n${s}`);
    await t.choose("How do clients reach the apiservers?");
    await t.answer("Address of the load balancer host", host("lb").address);
    await t.answer("SSH user on the load balancer host", host("lb").sshUser);
    s = await t.until("the load balancer to be probed", (x) => x.includes("(hostname lb):"));
    assert.match(flat(s), /✓ \S+ \(hostname lb\): [^✓?]*nginx [^✓?]*stream module/);
    await t.answer("Name of the load balancer host", "");
    await t.answer("Address clients use for the API", "");
    await t.answer("DNS name for the API", l.lbDnsName);
    await t.answer("Port clients connect to", "");

    // The cluster's Nodes are offered as workers, all selected: Enter takes them.
    s = await t.until("the Node list", (x) => lastLine(x).startsWith("? Workers from the cluster's Nodes"));
    for (const w of ["worker-1", "worker-2"])
      assert.match(s, new RegExp(`◉ ${w} +${host(w).address.replace(/\./g, "\\.")}`));
    await t.choose("Workers from the cluster's Nodes");
    // worker-2 takes root, not the primary's user: only that is asked again.
    await t.answer("SSH user on worker-2", host("worker-2").sshUser);
    await t.answer("SSH private key", "");
    s = await t.until(
      "both workers to be probed",
      (x) => x.includes("✓ worker-1:") && x.includes("✓ worker-2:"),
    );

    // An extra worker, down: kept with a warning, then removed again, all without Ctrl-C.
    await t.choose("Workers: worker-1, worker-2. Next?", ["Down"]);
    await t.answer("Address of added worker 1 (empty: none)", unreachable);
    await t.answer("SSH user on added worker 1", "");
    await t.choose("added worker 1 cannot be reached now. Keep it?", ["Up"], 20_000);
    await t.answer("Node name of added worker 1", "");
    s = await t.screen();
    assert.match(flat(s), /worker-3 \(\S+\) is kept although it cannot be reached now: apply will skip it/);
    await t.choose("Workers: worker-1, worker-2, worker-3. Next?", ["Down", "Down"]);
    await t.choose("Remove which worker?", ["Up"]);
    await t.choose("Workers: worker-1, worker-2. Next?");

    // Nothing was written to known_hosts while answering.
    await t.until("the output question", (x) => lastLine(x).startsWith("? Write the inventory"));
    assert.equal(await readFile(knownHosts, "utf8"), knownBefore);
    s = await t.answer("Write the inventory (and record 5 accepted host keys in known_hosts) to", out);
    s = await t.until("the host keys to be recorded", (x) => flat(x).includes(`recorded in ${knownHosts}`));
    const known = await readFile(knownHosts, "utf8");
    assert.ok(known.startsWith(knownBefore));
    for (const n of ["master-2", "master-3", "lb", "worker-1", "worker-2"])
      assert.ok(known.includes(`\n${host(n).address} ssh-ed25519 `), `${n} not recorded:\n${known}`);
    assert.ok(!known.includes(unreachable));

    // The plan: a summary of one line per step, then the details in a pager on request.
    s = await t.until("the plan's summary", (x) => lastLine(x).startsWith("? See the plan's"), 180_000);
    const lines = s.split("\n");
    const from = lines.findIndex((x) => x.startsWith("Plan: "));
    const to = lines.findIndex((x, i) => i > from && x.startsWith("? See the plan's"));
    const summary = lines.slice(from, to).filter((x) => /^ *\d+\. /.test(x));
    assert.ok(summary.length >= 8, s);
    assert.match(summary[0]!, /^ *1\. lb +nginx in front of every apiserver — one API address +seconds$/);
    assert.match(
      summary.at(-1)!,
      /^\d+\. workers +kubelet\.conf through the LB — any master may fail +< 2 min each$/,
    );
    // Every line the wizard printed fits the terminal (capture-pane -J joins what the terminal wrapped).
    const wide = lines.filter((x) => x.length > 80);
    assert.deepEqual(wide, [], "lines wider than 80 columns");
    assert.doesNotMatch(s, /Details:/);
    // The pager takes the screen at once, over the answered question: the pager is the answer's proof.
    await t.until(`the question "See the plan's"`, (x) => lastLine(x).startsWith("? See the plan's"));
    await t.type("y");
    s = await t.until("the pager", (x) => /^(:|\(END\))\s*$/m.test(x));
    assert.deepEqual(
      s.split("\n").filter((x) => x.length > 80),
      [],
      "pager lines wider than 80 columns",
    );
    await t.key("q");
    await t.answer("Apply this plan now?", "n");
    const code = await t.exitCode();
    s = await t.screen();
    assert.equal(code, 0, s);
    assert.match(flat(s), /not applied; nothing was changed/);
    assert.deepEqual(
      s.split("\n").filter((x) => x.length > 80),
      [],
      "lines wider than 80 columns",
    );
    // The full plan is in the log: details and the base64 the screen elides.
    const logs = join(dir, "kubeha-state", "logs");
    const log = (await Promise.all((await readdir(logs)).map((f) => readFile(join(logs, f), "utf8")))).join(
      "\n",
    );
    assert.match(log, /Details:/);
    assert.match(log, /[A-Za-z0-9+/]{1000,}/);

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
      ["master-1", "master-2", "master-3", "lb", "worker-1", "worker-2"].map((n) => [
        n,
        host(n).address,
        host(n).sshUser,
        host(n).sudo,
      ]),
    );
    assert.equal(inv.loadBalancer.dnsName, l.lbDnsName);
    assert.equal(inv.loadBalancer.port, 6443);

    // ... which `plan` accepts on its own: summary first, every line within 80 columns (not a
    // terminal), base64 elided; `-o json` has it whole.
    const plan = await l.wsExec(["node", join(REPO, "dist/src/cli.js"), "plan", "-i", out]);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    // (What the reporter says before it, on stdout too, are timestamped lines, not the plan's.)
    const planLines = plan.stdout.split("\n").filter((x) => !/^\d{4}-\d\d-\d\dT/.test(x));
    // The entry point first (wrapped), then the summary.
    assert.match(
      planLines.join("\n"),
      /^Entry point \(nginx\): clients will use https:\/\/api\.lab\.internal:6443\b[^]*?\n\nPlan: /,
    );
    assert.deepEqual(
      planLines.filter((x) => x.length > 80),
      [],
    );
    assert.ok(planLines.indexOf("Details:") > summary.length, plan.stdout);
    assert.match(plan.stdout, /<base64: \d+ bytes, sha256\s+[0-9a-f]{12}>/);
    assert.match(plan.stdout, /worker-2:\/etc\/kubernetes\/kubelet\.conf/);
    const json = await l.wsExec(["node", join(REPO, "dist/src/cli.js"), "plan", "-i", out, "-o", "json"]);
    assert.equal(json.code, 0, json.stderr);
    assert.match(json.stdout, /[A-Za-z0-9+/]{1000,}/);
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
