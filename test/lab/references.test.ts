// `kubeha references` against the lab: the CNI-style DaemonSet and ConfigMap, a Deployment's args, an
// operator's kubeconfig in a Secret, a kubeconfig file on a host and the operator's own kubeconfig
// are each found before the conversion and after it; `--fix` changes the safe ones (checked with
// real kubectl) under the cluster lock, and a second scan no longer finds them. No output and no
// log ever holds the Secret's value.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { kubeha, type CliResult } from "./kubeha.js";
import { LAB_SECRET_TOKEN, referenceObjects, tokenKubeconfig } from "./fixture-objects.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

const HOST_TOKEN = "kubeha-lab-host-file-token-51e0b9";
const OWN_TOKEN = "kubeha-lab-operator-token-c27d48";

/**
 * The report as one line per reference and one per change: it is wrapped at 80 columns, each
 * continuation hanging two spaces under its line (the summary at 0, a reference at 2, a change at 6).
 */
function unwrapReport(text: string): string {
  return text.replace(/\n {2}(?![✎!·] )(?=\S)/g, " ").replace(/\n( {4}| {8})(?=\S)/g, " ");
}

describe("kubeha references (lab)", { skip, concurrency: false }, () => {
  let lab: Lab;
  let primary: string;
  let lbAddress: string;
  let ownKubeconfig: string;
  const outputs: CliResult[] = [];
  const run = async (args: string[], timeoutMs?: number) => {
    const r = await kubeha(lab, [...args, "-i", lab.inventoryFile], { timeoutMs });
    outputs.push(r);
    return { ...r, raw: r.stdout, stdout: unwrapReport(r.stdout) };
  };
  const kubectl = async (...args: string[]): Promise<string> => {
    const r = await lab.exec("master-1", [
      "kubectl",
      "--kubeconfig",
      "/etc/kubernetes/admin.conf",
      "--request-timeout=10s",
      "--cache-dir=/run/kubectl-cache",
      ...args,
    ]);
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const cniHost = () =>
    kubectl("-n", "kube-system", "get", "cm", "cni-config", "-o", "jsonpath={.data.k8s-service-host}");
  const agentHost = () =>
    kubectl(
      "-n",
      "kube-system",
      "get",
      "ds",
      "cni-agent",
      "-o",
      "jsonpath={.spec.template.spec.containers[0].env[0].value}",
    );

  before(async () => {
    lab = await startLab({ workers: 1 });
    primary = lab.primary.address;
    lbAddress = lab.lb.address;
    // Files kubeha does not manage: a tool's kubeconfig on the primary, and the operator's own.
    await writeFile(
      join(lab.dir, "h", "master-1", "etc-kubernetes", "monitoring.conf"),
      tokenKubeconfig(`https://${primary}:6443`, HOST_TOKEN),
      { mode: 0o600 },
    );
    ownKubeconfig = join(lab.dir, "operator.conf");
    await writeFile(ownKubeconfig, tokenKubeconfig(`https://${primary}:6443`, OWN_TOKEN), { mode: 0o600 });
  });
  after(async () => {
    await lab?.stop();
  });

  /** The lab's objects and files, each with the change it needs. */
  function assertFindsAll(text: string): void {
    const to = `${lbAddress}:6443`;
    for (const re of [
      new RegExp(
        `✎ ConfigMap kube-system/cni-config data\\.k8s-service-host: ${primary}\\n\\s+change ${primary} → ${lbAddress} \\(safe edit`,
      ),
      new RegExp(
        `✎ DaemonSet kube-system/cni-agent containers\\[cni-agent\\]\\.env\\[KUBERNETES_SERVICE_HOST\\]: ${primary}\\n\\s+change ${primary} → ${lbAddress}`,
      ),
      new RegExp(
        `! Deployment lab-data/metrics-agent containers\\[metrics-agent\\]\\.args\\[0\\]: --apiserver=https://${primary}:6443\\n\\s+change ${primary}:6443 → ${to}`,
      ),
      new RegExp(`! Secret lab-data/ops-kubeconfig data\\.kubeconfig: a kubeconfig naming ${primary}:6443`),
      new RegExp(
        `! master-1:/etc/kubernetes/monitoring\\.conf line 5: server: https://${primary}:6443\\n\\s+change ${primary}:6443 → ${to}`,
      ),
      new RegExp(`! kubeconfig ${ownKubeconfig} line 5: server: https://${primary}:6443`),
    ]) {
      assert.match(text, re);
    }
  }

  test("discover and plan: a summary line and every reference, before the conversion", async () => {
    const d = await run(["discover", "--kubeconfig", ownKubeconfig]);
    assert.equal(d.code, 0, d.stdout + d.stderr);
    assert.match(
      d.stdout,
      /references to the primary's apiserver \([^)]*\): \d+ found: 2 with a safe edit \(kubeha references --fix\), 4 to change by hand, \d+ that kubeha apply changes/,
    );
    assertFindsAll(d.stdout);
    // kube-proxy's kubeconfig and the worker's kubelet.conf are the conversion's own: named, not fixed here.
    assert.match(
      d.stdout,
      /· ConfigMap kube-system\/kube-proxy data\.kubeconfig\.conf: line \d+: server: https:/,
    );
    const p = await run(["plan", "--kubeconfig", ownKubeconfig]);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assertFindsAll(p.stdout);
  });

  test("after apply: kubeha's own clients are gone from the report, the rest is still there", async () => {
    const a = await run(["apply", "--yes", "--kubeconfig", ownKubeconfig], 300_000);
    assert.equal(a.code, 0, a.stdout + a.stderr);
    assert.match(a.stdout, /checks passed/);
    // The report comes last, after the plan and the checks.
    const report = a.stdout.slice(a.stdout.lastIndexOf("references to the primary's apiserver"));
    assertFindsAll(report);
    assert.doesNotMatch(report, /kube-proxy|cluster-info|kubelet\.conf|that kubeha apply changes/);
    const r = await run(["references", "--kubeconfig", ownKubeconfig]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assertFindsAll(r.stdout);
  });

  test("--fix without a terminal and without --yes refuses and changes nothing", async () => {
    const r = await run(["references", "--fix"]);
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /refusing to change references without confirmation: pass --yes/);
    assert.equal(await cniHost(), primary);
    assert.equal(await agentHost(), primary);
  });

  test("--fix --yes: the plan diff, the safe edits made, and a second scan no longer finds them", async () => {
    const r = await run(["references", "--fix", "--yes"]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Plan: 2 objects to change/);
    // The diffs as printed (their lines are not a wrapped report's).
    assert.match(
      r.raw,
      new RegExp(
        `--- a/ConfigMap/kube-system/cni-config/data/k8s-service-host\\n.*\\n.*\\n\\s+-${primary}\\n\\s+\\+${lbAddress}`,
      ),
    );
    assert.match(
      r.raw,
      /\+\+\+ b\/DaemonSet\/kube-system\/cni-agent\/env\/cni-agent\/KUBERNETES_SERVICE_HOST/,
    );
    assert.match(r.stderr + r.stdout, /cluster lock kube-system\/kubeha-lock taken/);
    assert.match(r.stderr + r.stdout, /cluster lock kube-system\/kubeha-lock released/);
    // Checked with kubectl, not with kubeha.
    assert.equal(await cniHost(), lbAddress);
    assert.equal(await agentHost(), lbAddress);
    assert.equal(
      await kubectl(
        "-n",
        "kube-system",
        "get",
        "cm",
        "cni-config",
        "-o",
        "jsonpath={.data.k8s-service-port}",
      ),
      "6443",
    );
    assert.equal(
      (await kubectl("-n", "kube-system", "get", "leases", "-o", "name")).includes("kubeha-lock"),
      false,
      "the lock is released",
    );
    const again = await run(["references"]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.doesNotMatch(again.stdout, /cni-config|cni-agent/);
    assert.match(again.stdout, /: \d+ found: 3 to change by hand/);
    assert.match(again.stdout, /Deployment lab-data\/metrics-agent/);
  });

  test("no output and no log holds a Secret's or a kubeconfig's token", async () => {
    const stored = referenceObjects(primary, 6443).find((o) => o.key.startsWith("/registry/secrets/"));
    const encoded = (JSON.parse(stored!.value) as { data: { kubeconfig: string } }).data.kubeconfig;
    const secrets = [LAB_SECRET_TOKEN, encoded.slice(40, 100), HOST_TOKEN, OWN_TOKEN];
    assert.ok(outputs.length >= 6);
    for (const r of outputs)
      for (const s of secrets) assert.ok(!(r.stdout + r.stderr).includes(s), `output holds ${s}`);
    const logs = join(lab.stateDir, "logs");
    for (const f of await readdir(logs)) {
      const text = await readFile(join(logs, f), "utf8");
      for (const s of secrets) assert.ok(!text.includes(s), `log ${f} holds ${s}`);
    }
  });
});
