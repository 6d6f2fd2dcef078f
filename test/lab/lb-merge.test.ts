// An LB host whose nginx already serves a stream {} block of the operator's (a TCP proxy to an echo
// server, in a modules-available file symlinked from modules-enabled, as Debian lays them out):
// layouts kubeha cannot merge are refused with exit 2 and advice that works (and, without that block,
// a stream.d file nginx does not read yet, which kubeha's include would); then the conversion puts
// kubeha's upstream and server inside that block, the proxy keeps serving, the entry point reaches
// every apiserver (checked with openssl), and a second apply changes nothing. The apply also shows
// that the time it reports is its steps' (issue 15). Last, the rollback takes kubeha's include out of
// the operator's file again (byte for byte as before) while the proxy keeps serving. The check run
// before the first change (nginx -t on a copy of /etc/nginx) is tested here on that layout. Root only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { kubeha } from "./kubeha.js";
import { startInHost } from "./hosts.js";
import { alive, sleep } from "./proc.js";
import { labSkip } from "../helpers/skip.js";
import { copyCheckScript } from "../../src/phases/nginx-check.js";
import { includeInStreamBlock, KUBEHA_UPSTREAM } from "../../src/render/nginx-merge.js";
import { renderNginxStream } from "../../src/render/nginx.js";

const skip = labSkip();

const AVAILABLE = "/etc/nginx/modules-available/60-lab-proxy.conf";
const ENABLED = "/etc/nginx/modules-enabled/60-lab-proxy.conf";
const OURS = "/etc/nginx/kubeha/apiservers-stream.conf";
const INCLUDE = `include ${OURS};`;
const ECHO_PORT = 7000;
const PROXY_PORT = 9999;

/** Answers each line with "echo: <line>": proof that the bytes went through to this server. */
const ECHO_SERVER = `require("net").createServer((s) => {
  let buf = "";
  s.on("data", (d) => {
    buf += d;
    for (let i; (i = buf.indexOf("\\n")) >= 0; buf = buf.slice(i + 1)) s.write("echo: " + buf.slice(0, i) + "\\n");
  });
  s.on("error", () => {});
}).listen(${ECHO_PORT}, "127.0.0.1");`;

/** kubeha's servers for the merged layout, as the step renders them. */
function renderedServers(lab: Lab): string {
  return renderNginxStream({
    serversOnly: true,
    masters: lab.masters.map((m) => m.address),
    apiserverPort: 6443,
    listenPort: 6443,
    upstreamName: KUBEHA_UPSTREAM,
  });
}

/** The operator's stream {} block: a TCP proxy on the LB's address to the echo server. */
function proxyConf(lbAddress: string, opts: { upstream?: string; extra?: string } = {}): string {
  const upstream = opts.upstream ?? "echo_backends";
  return [
    "# the operator's TCP proxy",
    "stream {",
    `    upstream ${upstream} {`,
    `        server 127.0.0.1:${ECHO_PORT};`,
    "    }",
    "",
    "    server {",
    `        listen ${lbAddress}:${PROXY_PORT};`,
    `        proxy_pass ${upstream};`,
    "    }",
    ...(opts.extra ? [opts.extra] : []),
    "}",
    "",
  ].join("\n");
}

describe("an LB whose nginx already has a stream {} block", { skip }, () => {
  let lab: Lab | undefined;
  let echoPid: number | undefined;
  before(async () => {
    lab = await startLab({ workers: 0, bulkKeys: 0 });
    echoPid = startInHost(
      lab.anchorPid("lb"),
      [process.execPath, "-e", ECHO_SERVER],
      join(lab.dir, "h", "lb", "echo.log"),
    );
    await setProxy(proxyConf(lab.lb.address));
    const link = await lab.exec("lb", ["ln", "-s", AVAILABLE, ENABLED]);
    assert.equal(link.code, 0, link.stderr);
    await reload();
    await waitForEcho();
  });
  after(async () => {
    if (echoPid !== undefined && alive(echoPid)) process.kill(echoPid, "SIGTERM");
    await lab?.stop();
  });

  const L = (): Lab => lab!;
  const cli = (...args: string[]) => kubeha(L(), [...args, "-i", L().inventoryFile], { timeoutMs: 600_000 });
  const cat = async (path: string): Promise<string> => (await L().exec("lb", ["cat", path])).stdout;
  async function setProxy(text: string): Promise<void> {
    const w = await L().exec("lb", ["sh", "-c", `cat > ${AVAILABLE}`], { stdin: text });
    assert.equal(w.code, 0, w.stderr);
  }
  async function reload(): Promise<void> {
    const r = await L().exec("lb", ["nginx", "-s", "reload"]);
    assert.equal(r.code, 0, r.stderr);
  }
  /** A line sent from the workstation through the operator's proxy comes back from the echo server. */
  const echo = () =>
    L().wsExec([
      "timeout",
      "5",
      "bash",
      "-c",
      `exec 3<>/dev/tcp/${L().lb.address}/${PROXY_PORT}; echo ping >&3; head -n 1 <&3`,
    ]);
  async function waitForEcho(): Promise<void> {
    for (let i = 0; i < 50; i++) {
      if ((await echo()).stdout === "echo: ping\n") return;
      await sleep(100);
    }
    assert.fail(`the operator's proxy on ${L().lb.address}:${PROXY_PORT} never answered through nginx`);
  }

  /** A refused layout: exit 2 from discover and plan naming it, nginx's files as they were. */
  async function refused(conf: string, message: RegExp, fix: RegExp): Promise<void> {
    await setProxy(conf);
    await reload();
    try {
      for (const cmd of ["discover", "plan"]) {
        const r = await cli(cmd);
        assert.equal(r.code, 2, `${cmd}: ${r.stdout}${r.stderr}`);
        assert.match(r.stdout + r.stderr, message, cmd);
        if (cmd === "discover") assert.match(r.stdout, fix);
      }
      assert.equal(await cat(AVAILABLE), conf);
      assert.equal((await L().exec("lb", ["test", "-e", "/etc/nginx/kubeha"])).code, 1);
    } finally {
      // The advice: rename the upstream / move the server; here, back to the operator's own layout.
      await setProxy(proxyConf(L().lb.address));
      await reload();
    }
    const again = await cli("discover");
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(
      again.stdout,
      new RegExp(
        `lb +loadBalancer .*, nginx \\d+\\.\\d+\\.\\d+ \\(stream module: loaded\\); kubeha's upstream and server go inside its stream \\{\\} block \\(${ENABLED} line 2\\)`,
      ),
    );
    assert.doesNotMatch(again.stdout, /nginx nginx\//);
  }

  test("without that block, a stream.d file nginx does not read yet: exit 2 naming it (nginx -T cannot show it)", async () => {
    const l = L();
    const dormant = "/etc/nginx/stream.d/old-proxy.conf";
    await l.exec("lb", ["rm", ENABLED]);
    await reload();
    await l.exec("lb", ["mkdir", "-p", "/etc/nginx/stream.d"]);
    await l.exec("lb", ["sh", "-c", `cat > ${dormant}`], { stdin: proxyConf(l.lb.address) });
    try {
      const r = await cli("discover");
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        new RegExp(
          `lb: ${dormant} is not read by nginx now, but kubeha's \`include /etc/nginx/stream\\.d/\\*\\.conf;\` at nginx\\.conf's top level would start serving it`,
        ),
      );
      assert.match(r.stdout, /fix: move it out of \/etc\/nginx\/stream\.d/);
    } finally {
      await l.exec("lb", ["rm", "-f", dormant]);
      await l.exec("lb", ["ln", "-s", AVAILABLE, ENABLED]);
      await reload();
    }
    await waitForEcho();
  });

  test("an upstream named like kubeha's in that block: exit 2, naming it, with advice", async () => {
    await refused(
      proxyConf(L().lb.address, { upstream: "kubeha_apiservers" }),
      new RegExp(
        `lb: nginx's stream \\{\\} block \\(${ENABLED} line 2\\) cannot take kubeha's load balancer: the stream \\{\\} context already has an upstream named kubeha_apiservers \\(${ENABLED} line 3\\)`,
      ),
      /fix: rename that upstream/,
    );
  });

  test("a server of that block already on kubeha's port: exit 2, naming its listen, with advice", async () => {
    await refused(
      proxyConf(L().lb.address, {
        extra: `    server {\n        listen 127.0.0.1:6443;\n        proxy_pass echo_backends;\n    }`,
      }),
      new RegExp(
        `lb: nginx's stream \\{\\} block \\(${ENABLED} line 2\\) cannot take kubeha's load balancer: a stream server already listens on port 6443 \\(listen 127\\.0\\.0\\.1:6443, ${ENABLED} line 12\\)`,
      ),
      /fix: move that server to another port, or choose another loadBalancer\.port/,
    );
  });

  test("plan shows kubeha's include in the operator's file and what undoes it", async () => {
    const r = await cli("plan", "-o", "json");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const plan = JSON.parse(r.stdout) as {
      steps: { id: string; files: { path: string; after: string }[]; rollback: string }[];
    };
    const step = plan.steps.find((s) => s.id === "load-balancer/lb");
    assert.ok(step, r.stdout);
    if (!step) return;
    assert.deepEqual(
      step.files.map((f) => f.path),
      [OURS, AVAILABLE],
    );
    assert.doesNotMatch(step.files[0]!.after, /^\s*stream\s*\{/m);
    assert.ok(step.files[1]!.after.includes(`stream {\n    # added by kubeha`), step.files[1]!.after);
    assert.ok(step.rollback.includes(`remove the line \`${INCLUDE}\``), step.rollback);
    assert.ok(step.rollback.includes(`put back /etc/nginx/kubeha/backup/60-lab-proxy.conf`), step.rollback);
  });

  test("the check before the first change: nginx -t on a copy reads the new files through Debian's links, and nothing of /etc/nginx changes", async () => {
    const l = L();
    const tree = async () =>
      (
        await l.exec("lb", [
          "sh",
          "-c",
          "cd /etc/nginx && find . | sort | xargs -d '\\n' ls -ld --time-style=+%s",
        ])
      ).stdout;
    const leftovers = async () =>
      (await l.exec("lb", ["sh", "-c", "ls -d /tmp/kubeha-nginx-check.* 2>/dev/null; true"])).stdout;
    const before = { tree: await tree(), proxy: await cat(AVAILABLE) };
    const merged = includeInStreamBlock(before.proxy, AVAILABLE);
    const check = (ours: string) =>
      l.exec("lb", [
        "sh",
        "-c",
        copyCheckScript([
          { path: OURS, content: ours },
          { path: AVAILABLE, content: merged },
        ])!,
      ]);
    // Only the copy of the operator's file (reached through modules-enabled's absolute link) includes
    // this: a second upstream of the operator's name, which nginx refuses.
    const bad = await check(`upstream echo_backends {\n    server 127.0.0.1:1;\n}\n`);
    assert.notEqual(bad.code, 0, bad.stdout);
    // Reported where nginx meets it second, under the real paths (the operator's, after kubeha's include).
    assert.match(
      bad.stdout,
      /duplicate upstream "echo_backends" in \/etc\/nginx\/modules-enabled\/60-lab-proxy\.conf:5/,
    );
    assert.doesNotMatch(bad.stdout, /kubeha-nginx-check/);
    const good = await check(renderedServers(l));
    assert.equal(good.code, 0, good.stdout);
    assert.match(good.stdout, /test is successful/);
    assert.deepEqual({ tree: await tree(), proxy: await cat(AVAILABLE) }, before);
    assert.equal(await leftovers(), "");
    await waitForEcho();
  });

  let after1 = { proxy: "", ours: "" };
  /** The operator's file before the apply: what the rollback must give back. */
  let original = "";
  let applyOutput = "";

  test("apply: kubeha's servers inside that block; the operator's proxy still answers; every apiserver reached", async () => {
    const l = L();
    const before = await cat(AVAILABLE);
    original = before;
    const r = await cli("apply", "--yes");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    applyOutput = r.stdout;
    after1 = { proxy: await cat(AVAILABLE), ours: await cat(OURS) };
    // The operator's file: still behind its symlink, changed by exactly the two added lines.
    assert.equal((await l.exec("lb", ["readlink", ENABLED])).stdout.trim(), AVAILABLE);
    const added = after1.proxy.split("\n").filter((line) => !before.split("\n").includes(line));
    assert.deepEqual(
      added.map((x) => x.trim()),
      ["# added by kubeha (Kubernetes API load balancer); to undo, remove this line and the next", INCLUDE],
    );
    assert.equal(await cat("/etc/nginx/kubeha/backup/60-lab-proxy.conf"), before);
    assert.match(after1.ours, /upstream kubeha_apiservers \{/);
    assert.doesNotMatch(after1.ours, /^\s*stream\s*\{/m);
    assert.equal((await l.exec("lb", ["test", "-e", "/etc/nginx/stream.d/kubeha-apiservers.conf"])).code, 1);
    assert.equal((await l.exec("lb", ["nginx", "-t"])).code, 0);
    assert.equal((await echo()).stdout, "echo: ping\n");
    // Through the entry point, with openssl: each master's own apiserver certificate shows up.
    const fingerprint = "openssl x509 -noout -fingerprint -sha256";
    const wanted = new Map<string, string>();
    for (const m of [l.primary, ...l.masters]) {
      const f = await l.exec(m.name, ["sh", "-c", `${fingerprint} -in /etc/kubernetes/pki/apiserver.crt`]);
      assert.equal(f.code, 0, f.stderr);
      wanted.set(f.stdout.trim(), m.name);
    }
    const seen = new Set<string>();
    for (let i = 0; i < 30 && seen.size < wanted.size; i++) {
      const s = await l.wsExec([
        "sh",
        "-c",
        `openssl s_client -connect ${l.lb.address}:6443 </dev/null 2>/dev/null | ${fingerprint}`,
      ]);
      const who = wanted.get(s.stdout.trim());
      assert.ok(who, `the entry point presented ${s.stdout.trim() || "nothing"} ${s.stderr}`);
      seen.add(who);
    }
    assert.deepEqual([...seen].sort(), [...wanted.values()].sort());
  });

  test("the time apply reports is its steps' (from the journal line on), not the whole command's", () => {
    // Plain output: every line starts with its ISO time.
    const at = (line: string | undefined): number => Date.parse(line?.slice(0, 24) ?? "");
    const lines = applyOutput.split("\n");
    const journal = at(lines.find((l) => / journal: /.test(l)));
    const m = /^(\S+Z) \d+ steps? carried out, \d+ already done \((\d+\.\d)s\)$/m.exec(applyOutput);
    assert.ok(m, applyOutput);
    if (!m) return;
    const stepsMs = at(m[1]) - journal;
    assert.ok(journal - at(lines[0]) > 1000, "the command spends over a second before its first step");
    assert.ok(
      Math.abs(Number(m[2]) * 1000 - stepsMs) < 500,
      `reported ${m[2]}s, the steps took ${(stepsMs / 1000).toFixed(1)}s`,
    );
  });

  test("a second apply changes nothing: every step already done, the files as they were", async () => {
    const r = await cli("apply", "--yes");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Plan: nothing to do: all \d+ steps are already done/);
    assert.equal(await cat(AVAILABLE), after1.proxy);
    assert.equal(await cat(OURS), after1.ours);
    assert.equal((await echo()).stdout, "echo: ping\n");
  });

  test("rollback: kubeha's include out of the operator's file again, its proxy still answering, nothing on 6443", async () => {
    const l = L();
    const plan = await cli("plan", "--rollback");
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    const flat = plan.stdout.replace(/\n +/g, " ");
    assert.ok(
      flat.includes(
        `take \`${INCLUDE}\` and kubeha's comment above it out of the stream {} block of ${AVAILABLE}`,
      ),
      plan.stdout,
    );
    assert.match(
      flat,
      /mv \/etc\/nginx\/kubeha\/apiservers-stream\.conf \/etc\/nginx\/kubeha\/backup\/rollback-\d{8}T\d{6}Z\//,
    );
    assert.equal(await cat(AVAILABLE), after1.proxy, "the plan changed nothing");

    const r = await cli("rollback", "--yes");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /checks passed: the cluster is back to a single master/);
    // Byte for byte the operator's file before the apply, still behind its symlink.
    assert.equal(await cat(AVAILABLE), original);
    assert.equal((await l.exec("lb", ["readlink", ENABLED])).stdout.trim(), AVAILABLE);
    assert.equal((await l.exec("lb", ["test", "-e", OURS])).code, 1);
    const kept = await l.exec("lb", ["sh", "-c", "ls /etc/nginx/kubeha/backup/rollback-*/"]);
    assert.deepEqual(kept.stdout.trim().split("\n").sort(), ["60-lab-proxy.conf", "apiservers-stream.conf"]);
    const t = await l.exec("lb", ["nginx", "-T"]);
    assert.equal(t.code, 0, t.stderr);
    assert.doesNotMatch(t.stdout, /kubeha/);
    assert.doesNotMatch((await l.exec("lb", ["ss", "-Htln"])).stdout, /:6443\b/);
    assert.equal((await echo()).stdout, "echo: ping\n");

    const again = await cli("rollback", "--yes");
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /nothing to do/);
  });
});
