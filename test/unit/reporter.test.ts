// What the operator sees while an SSH operation takes long: the host and what kubeha waits for.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Reporter } from "../../src/ui/reporter.js";

/** Runs `fn` with stdout captured, as a terminal (`tty`) or not. */
function capture(tty: boolean, fn: (r: Reporter) => void): string {
  const out = process.stdout;
  const saved = { write: out.write, isTTY: out.isTTY };
  let text = "";
  out.write = ((chunk: string) => ((text += chunk), true)) as typeof out.write;
  out.isTTY = tty;
  try {
    fn(new Reporter({ json: false, color: true }));
  } finally {
    out.write = saved.write;
    out.isTTY = saved.isTTY;
  }
  return text;
}

describe("reporter: waiting on a host", () => {
  test("plain output: one line naming host, operation and seconds, repeated at most every 2s", () => {
    const text = capture(false, (r) => {
      r.waiting("lb", "`nginx -t`", 2);
      r.waiting("lb", "`nginx -t`", 3);
      r.waiting("worker-1", "write /etc/kubernetes/kubelet.conf", 2);
      r.waited("lb", "`nginx -t`");
    });
    const lines = text.trim().split("\n");
    assert.equal(lines.length, 2, text);
    assert.match(lines[0]!, /^\S+Z \[lb\] waiting for `nginx -t` \(2s\)$/);
    assert.match(lines[1]!, /^\S+Z \[worker-1\] waiting for write \/etc\/kubernetes\/kubelet.conf \(2s\)$/);
  });

  test("plain output: a host with many operations waiting gets one line per interval, not one per operation", () => {
    const text = capture(false, (r) => {
      for (const f of ["ca.crt", "ca.key", "admin.conf"])
        r.waiting("master-2", `write /etc/kubernetes/${f}`, 2);
    });
    const lines = text.trim().split("\n");
    assert.equal(lines.length, 1, text);
    assert.match(lines[0]!, /^\S+Z \[master-2\] waiting for write \/etc\/kubernetes\/ca\.crt \(2s\)$/);
    const later = capture(false, (r) => {
      r.waiting("master-2", "write /etc/kubernetes/a", 2);
      r.waiting("master-2", "write /etc/kubernetes/b", 2);
      r.waited("master-2", "write /etc/kubernetes/a");
      r.waiting("master-3", "write /etc/kubernetes/c", 2);
    });
    assert.equal(later.trim().split("\n").length, 2, later);
  });

  test("on a terminal: the step's live line shows it, and no longer once it is over", () => {
    const text = capture(true, (r) => {
      r.begin("workers", "kubelet.conf");
      r.waiting("worker-3", "`systemctl restart kubelet`", 7);
      r.waited("worker-3", "`systemctl restart kubelet`");
      r.info("redrawn"); // a printed line redraws the live line under it
      r.end();
    });
    const draws = text.split("\r\x1b[K").filter((d) => d.includes("kubelet.conf ("));
    assert.match(
      draws.find((d) => d.includes("waiting")) ?? "",
      /\[workers\] kubelet\.conf \(\d+\.\ds\) \[worker-3\] waiting for `systemctl restart kubelet` \(7s\)/,
    );
    assert.doesNotMatch(draws.at(-1)!, /waiting/);
  });

  test("on a terminal: steps running at once share the live line until the last is over", () => {
    const text = capture(true, (r) => {
      r.begin("master-2", "etcd");
      r.begin("master-3", "pki");
      r.progress("master-2", "learner catching up");
      r.end("master-3", "pki");
      r.info("after pki");
      r.end("master-2", "etcd");
      r.info("after etcd");
    });
    const draws = text.split("\r\x1b[K");
    assert.ok(
      draws.some((d) => /\[master-3\] pki \(\d+\.\ds\) \(\+1 running\)/.test(d)),
      text,
    );
    // The newest step is drawn; after it ends, the one still running is drawn again, with its progress.
    const afterPki = draws.slice(draws.findIndex((d) => d.includes("after pki")));
    assert.match(afterPki[1] ?? "", /\[master-2\] etcd \(\d+\.\ds\) learner catching up/);
    const afterEtcd = draws.slice(draws.findIndex((d) => d.includes("after etcd")));
    assert.equal(afterEtcd.length, 1, "no live line once both are over");
  });
});

describe("reporter: one log per command", () => {
  test("a command run by another (the wizard's plan, then apply) gets its own log, named after it", () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeha-logs-"));
    try {
      capture(false, (r) => {
        r.attachLog(join(dir, "plan-1.log"));
        r.info("planned");
        r.attachLog(join(dir, "apply-1.log"));
        r.info("applied");
        assert.equal(r.logFile, join(dir, "apply-1.log"));
      });
      const plan = readFileSync(join(dir, "plan-1.log"), "utf8");
      const apply = readFileSync(join(dir, "apply-1.log"), "utf8");
      assert.match(plan, /planned\n.*continued in .*apply-1\.log\n$/);
      assert.doesNotMatch(plan, /applied/);
      assert.match(apply, /full log: .*apply-1\.log\n.*applied\n$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("--log-file keeps everything in the one file it names", () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeha-logs-"));
    const out = process.stdout;
    const saved = out.write;
    out.write = (() => true) as typeof out.write;
    try {
      const r = new Reporter({ json: false, color: false, logFile: join(dir, "mine.log") });
      r.attachLog(join(dir, "plan-1.log"));
      r.attachLog(join(dir, "apply-1.log"));
      r.info("applied");
      assert.equal(r.logFile, join(dir, "mine.log"));
      assert.match(readFileSync(join(dir, "mine.log"), "utf8"), /applied/);
      assert.ok(!existsSync(join(dir, "apply-1.log")));
    } finally {
      out.write = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("elapsed time since a given moment, not since the command started", () => {
    capture(false, (r) => {
      assert.equal(r.elapsed(Date.now()), "0.0s");
      assert.match(r.elapsed(Date.now() - 15_800), /^15\.8s$/);
    });
  });
});
