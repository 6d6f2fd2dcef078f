import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { unifiedDiff } from "../../src/render/diff.js";
import { formatPlan, planJson } from "../../src/plan/format.js";
import type { Step } from "../../src/engine/step.js";

const numbered = (n: number, word = "line") => Array.from({ length: n }, (_, i) => `${word} ${i + 1}`);

describe("unified diff of the plan", () => {
  it("shows a change of the final newline alone as a hunk", () => {
    assert.equal(
      unifiedDiff("a: 1\nb: 2", "a: 1\nb: 2\n", { fromFile: "a/x", toFile: "b/x" }),
      [
        "--- a/x",
        "+++ b/x",
        "@@ -1,2 +1,2 @@",
        " a: 1",
        "-b: 2",
        "\\ No newline at end of file",
        "+b: 2",
        "",
      ].join("\n"),
    );
    assert.equal(
      unifiedDiff("a: 1\n", "a: 1", { fromFile: "a/x", toFile: "b/x" }),
      ["--- a/x", "+++ b/x", "@@ -1,1 +1,1 @@", "-a: 1", "+a: 1", "\\ No newline at end of file", ""].join(
        "\n",
      ),
    );
  });

  it("shows a new file as added lines", () => {
    assert.equal(unifiedDiff("", "x\ny\n"), ["--- a", "+++ b", "@@ -0,0 +1,2 @@", "+x", "+y", ""].join("\n"));
  });

  it("diffs a large file quickly, with exact hunks for a few changes", () => {
    const a = numbered(50_000).join("\n") + "\n";
    const b = a.replace("line 10\n", "line ten\n").replace("line 40000\n", "");
    const started = performance.now();
    const d = unifiedDiff(a, b);
    assert.ok(performance.now() - started < 2000, `took ${Math.round(performance.now() - started)} ms`);
    assert.deepEqual(
      d.split("\n").filter((l) => l.startsWith("@@") || /^[-+](?![-+]{2} )/.test(l)),
      ["@@ -7,7 +7,7 @@", "-line 10", "+line ten", "@@ -39997,7 +39997,6 @@", "-line 40000"],
    );
  });

  it("shows a large rewrite as one replacing hunk, quickly", () => {
    const a = numbered(5000).join("\n") + "\n";
    const b = numbered(5000, "other").join("\n");
    const started = performance.now();
    const d = unifiedDiff(a, b);
    assert.ok(performance.now() - started < 2000, `took ${Math.round(performance.now() - started)} ms`);
    const lines = d.split("\n");
    assert.equal(lines[2], "@@ -1,5000 +1,5000 @@");
    assert.equal(lines.filter((l) => l.startsWith("-line ")).length, 5000);
    assert.equal(lines.filter((l) => l.startsWith("+other ")).length, 5000);
    // Removals first, then additions; only the new side lacks a final newline.
    assert.equal(lines[3], "-line 1");
    assert.equal(lines[5003], "+other 1");
    assert.deepEqual(lines.slice(-3), ["+other 5000", "\\ No newline at end of file", ""]);
  });
});

describe("plan files", () => {
  const step = (files: Step["files"]): Step => ({
    id: "pki/master-2",
    phase: "pki",
    host: "master-2",
    title: "write PKI",
    why: "test",
    files,
    details: [],
    isDone: () => Promise.resolve(false),
    run: () => Promise.resolve(),
    verify: () => Promise.resolve(),
    rollback: "",
  });

  it("never shows a secret's content, even when a current content is at hand", () => {
    const secret = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkq\n-----END PRIVATE KEY-----\n";
    const files = [
      {
        host: "master-2",
        path: "/etc/kubernetes/pki/sa.key",
        mode: 0o600,
        secret: true,
        before: secret,
        after: "RSA key",
      },
    ];
    const text = formatPlan([{ step: step(files), done: false }], "/backup");
    assert.match(text, /sa\.key \(0600, secret\): RSA key/);
    assert.doesNotMatch(text, /PRIVATE KEY|MIIE/);
    assert.doesNotMatch(
      JSON.stringify(planJson([{ step: step(files), done: false }], "/backup")),
      /PRIVATE KEY|MIIE/,
    );
  });

  it("shows the hunk of a file whose only change is the final newline", () => {
    const files = [
      { host: "lb", path: "/etc/nginx/x.conf", mode: 0o644, secret: false, before: "a\nb", after: "a\nb\n" },
    ];
    const text = formatPlan([{ step: step(files), done: false }], "/backup");
    assert.match(
      text,
      /x\.conf \(0644\): changed\n {6}--- a\/etc\/nginx\/x\.conf\n {6}\+\+\+ b\/etc\/nginx\/x\.conf\n {6}@@ /,
    );
    assert.match(text, /\\ No newline at end of file/);
  });
});
