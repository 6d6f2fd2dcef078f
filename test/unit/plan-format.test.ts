import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { formatPlan, planDetails, planJson, planSummary, type PlannedStep } from "../../src/plan/format.js";
import type { Step } from "../../src/engine/step.js";
import { elide, terminalWidth, wrapLine, wrapText } from "../../src/ui/wrap.js";

const widest = (text: string): number => Math.max(...text.split("\n").map((l) => l.length));

describe("wrapping at the terminal width", () => {
  it("cuts at spaces and hangs continuation lines under the line's own indentation", () => {
    const line =
      "   - per worker: write kubelet.conf (backup kept), systemctl restart kubelet, wait for Ready";
    const out = wrapLine(line, 40);
    assert.deepEqual(out, [
      "   - per worker: write kubelet.conf",
      "     (backup kept), systemctl restart",
      "     kubelet, wait for Ready",
    ]);
    assert.equal(out.join(" ").replace(/ +/g, " ").trim(), line.replace(/ +/g, " ").trim());
  });

  it("keeps a short line as it is, inner spacing included", () => {
    assert.deepEqual(wrapLine("  Kubernetes      1.31.2", 80), ["  Kubernetes      1.31.2"]);
  });

  it("cuts a word longer than a line where it must, losing nothing", () => {
    const flag = `--etcd-servers=${Array.from({ length: 6 }, (_, i) => `https://10.0.0.1${i}:2379`).join(",")}`;
    const out = wrapLine(`      +    - ${flag}`, 50);
    assert.equal(out.length, 4);
    assert.ok(
      out.every((l) => l.length <= 50),
      out.join("\n"),
    );
    const line = `      +    - ${flag}`;
    assert.equal(out.map((l) => l.trimStart()).join(""), line.trimStart());
  });

  it("wraps every line of a text; Infinity leaves it alone", () => {
    const text = `${"word ".repeat(40)}\nshort`;
    assert.ok(widest(wrapText(text, 30)) <= 30);
    assert.equal(wrapText(text, Infinity), text);
  });

  it("takes the width from the terminal, 80 when there is none", () => {
    assert.equal(terminalWidth({ columns: 132 }), 132);
    assert.equal(terminalWidth({}), 80);
  });
});

describe("eliding key material and base64", () => {
  const b64 = Buffer.from("x".repeat(1100)).toString("base64").replace(/^eHh4/, "QUJD");
  it("shows base64 as its length and the sha256 of its bytes", () => {
    const bytes = Buffer.from(b64, "base64");
    const sum = createHash("sha256").update(bytes).digest("hex").slice(0, 12);
    assert.equal(
      elide(`certificate-authority-data: ${b64}`),
      `certificate-authority-data: <base64: ${bytes.length} bytes, sha256 ${sum}>`,
    );
  });

  it("shows a PEM block as its label, length and checksum", () => {
    const pem = `-----BEGIN CERTIFICATE-----\n${"MIIB".repeat(16)}\n-----END CERTIFICATE-----\n`;
    const sum = createHash("sha256").update(pem).digest("hex").slice(0, 12);
    assert.equal(elide(`ca:\n${pem}end`), `ca:\n<CERTIFICATE: ${pem.length} chars, sha256 ${sum}>\nend`);
  });

  it("leaves words, paths, flags and hex digests alone", () => {
    const text = [
      "/etc/kubernetes/pki/apiserver-etcd-client.crt",
      `image: registry.k8s.io/etcd@sha256:${"a1b2c3d4".repeat(8)}`,
      "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
    ].join("\n");
    assert.equal(elide(text), text);
  });
});

describe("the plan a human reads", () => {
  const step = (over: Partial<Step>): Step => ({
    id: "pki/master-2",
    phase: "pki",
    host: "master-2",
    title: "certificates and kubeconfigs for master-2",
    why: "a new control-plane node needs its own serving certificates; the CAs are the primary's",
    files: [],
    details: [],
    isDone: () => Promise.resolve(false),
    run: () => Promise.resolve(),
    verify: () => Promise.resolve(),
    rollback: "",
    ...over,
  });
  const b64 = Buffer.from("certificate ".repeat(120)).toString("base64");
  const steps: PlannedStep[] = [
    {
      step: step({
        id: "load-balancer/lb",
        phase: "load-balancer",
        host: "lb",
        title: "nginx stream load balancer on lb (port 6443) in front of master-1, master-2, master-3",
        why: "clients must reach whichever apiservers are up through one address; done first",
      }),
      done: true,
    },
    { step: step({}), done: false },
    {
      step: step({
        id: "clients/cluster-info",
        phase: "clients",
        host: "cluster",
        title: "kube-public/cluster-info: kubeconfig through the load balancer",
        files: [
          {
            host: "cluster",
            path: "kube-public/cluster-info",
            mode: 0o644,
            secret: false,
            before: `server: https://10.0.0.11:6443\ncertificate-authority-data: ${b64}\n`,
            after: `server: https://10.0.0.20:6443\ncertificate-authority-data: ${b64}\n`,
          },
        ],
      }),
      done: false,
    },
    {
      step: step({
        id: "clients/workers",
        phase: "clients",
        host: "workers",
        title: "kubelet.conf on 2 workers through the load balancer, 3 at a time",
        files: ["worker-1", "worker-2"].map((w) => ({
          host: w,
          path: "/etc/kubernetes/kubelet.conf",
          mode: 0o600,
          secret: true,
          after: "server https://10.0.0.11:6443 → https://10.0.0.20:6443",
        })),
      }),
      done: false,
    },
  ];

  it("summary: one line per step within the width, with host, what, why and how long", () => {
    const text = planSummary(steps, "/state/backups/x", 80);
    const lines = text.split("\n");
    assert.match(lines[0]!, /^Plan: 3 of 4 steps to do/);
    const rows = lines.filter((l) => /^ *\d+\. /.test(l));
    assert.equal(rows.length, steps.length);
    assert.ok(widest(text) <= 80, text);
    assert.match(rows[0]!, /^1\. lb +nginx in front of every apiserver — one API address +done$/);
    assert.match(rows[1]!, /^2\. master-2 +certificates, kubeconfigs — from the primary's CAs +2-10 s$/);
    assert.match(rows[2]!, /^3\. cluster +cluster-info through the LB — joins use the LB +seconds$/);
    assert.match(rows[3]!, /^4\. workers +kubelet\.conf through the LB — any master may fail +< 2 min each$/);
    // Narrower: the reason goes first, the line still fits.
    const narrow = planSummary(steps, "/b", 56);
    assert.ok(widest(narrow) <= 56, narrow);
    assert.match(narrow, /^2\. master-2 +certificates, kubeconfigs +2-10 s$/m);
    // A step kubeha does not know yet: its own title and reason, cut to fit.
    const other = planSummary(
      [{ step: step({ id: "new/x", title: "t".repeat(100) }), done: false }],
      "/b",
      60,
    );
    assert.ok(widest(other) <= 60, other);
    assert.match(other, /t… {2}seconds$/);
  });

  it("details: every line within the width, base64 elided, each worker's entry naming it", () => {
    const text = planDetails(steps, { width: 80, elide: true });
    assert.ok(widest(text) <= 80, text);
    assert.doesNotMatch(text, /[A-Za-z0-9+/]{60}/);
    assert.match(text, /certificate-authority-data: <base64: \d+ bytes, sha256 [0-9a-f]{12}>/);
    assert.match(text, /worker-1:\/etc\/kubernetes\/kubelet\.conf \(0600, secret\)/);
    assert.match(text, /worker-2:\/etc\/kubernetes\/kubelet\.conf \(0600, secret\)/);
    // The changed line is the server; the certificate is the same on both sides.
    assert.match(text, /^ {6}-server: https:\/\/10\.0\.0\.11:6443$/m);
    assert.doesNotMatch(text, /^ {6}[-+]certificate-authority-data/m);
  });

  it("the full plan (the log's) keeps everything; the summary comes first; JSON holds it whole", () => {
    const full = formatPlan(steps, "/b");
    assert.ok(full.indexOf("Plan: ") < full.indexOf("Details:"));
    assert.ok(full.includes(b64));
    assert.ok(JSON.stringify(planJson(steps, "/b")).includes(b64));
    assert.equal(planJson(steps, "/b").steps[1]!.duration, "2-10 s");
  });
});
