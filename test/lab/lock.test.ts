// The cluster lock against the lab, seen with kubectl: a run whose Lease passes to someone else stops
// at the next step and leaves that Lease alone; an expired Lease is taken over with a warning; of two
// `apply` runs started at once, one converts and the other refuses (exit 2) before any change, naming
// the holder; the Lease is gone after. Root only.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { labSkip } from "../helpers/skip.js";
import { kubeha, kubehaActingAt } from "./kubeha.js";

const skip = labSkip();

describe("the cluster lock: two operators at once", { skip }, () => {
  let lab: Lab;
  const kubectl = (...args: string[]) =>
    lab.wsExec([
      "kubectl",
      "--kubeconfig",
      lab.adminKubeconfig,
      // A fresh discovery cache: an old one of another lab at this address may lack the Lease kind.
      "--cache-dir",
      join(lab.dir, "kubectl-cache"),
      "--request-timeout=10s",
      ...args,
    ]);
  type Lease = { spec: { holderIdentity?: string; renewTime?: string } };
  const lease = async (): Promise<Lease | undefined> => {
    const r = await kubectl("get", "lease", "kubeha-lock", "-n", "kube-system", "-o", "json");
    if (r.code !== 0) {
      assert.match(r.stderr, /NotFound/);
      return undefined;
    }
    return JSON.parse(r.stdout) as Lease;
  };
  const apply = () => ["apply", "--yes", "-i", lab.inventoryFile];
  const microNow = () => new Date().toISOString().replace(/Z$/, "000Z");
  /** What another operator's run does: the lease's spec changed (and renewed now) with kubectl. */
  const renewedNow = async (spec: Record<string, string>): Promise<void> => {
    const patch = JSON.stringify({ spec: { ...spec, renewTime: microNow() } });
    const p = await kubectl(
      "patch",
      "lease",
      "kubeha-lock",
      "-n",
      "kube-system",
      "--type=merge",
      "-p",
      patch,
    );
    assert.equal(p.code, 0, p.stderr);
  };

  before(async () => {
    lab = await startLab({ workers: 0, bulkKeys: 0 });
  });
  after(async () => {
    await lab?.stop();
  });

  test("a run whose lease passes to someone else stops before its next step and leaves that lease alone", async () => {
    const other = "other@elsewhere pid 4242";
    const r = await kubehaActingAt(lab, apply(), /backup done/, () =>
      renewedNow({ holderIdentity: other, acquireTime: microNow() }),
    );
    assert.ok(r.acted, `the run never took its backup:\n${r.stdout}${r.stderr}`);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stderr,
      /lost the cluster lock kube-system\/kubeha-lock: it is now held by other@elsewhere pid 4242 since \S+\. Stopped before the next step/,
    );
    assert.match(r.stdout + r.stderr, /cluster lock kube-system\/kubeha-lock left as it is/);
    assert.equal((await lease())?.spec.holderIdentity, other, "the other holder's lease is not deleted");
  });

  test("while another run holds it, certs render --push refuses (exit 2); plan and certs render --out do not need it", async () => {
    await renewedNow({});
    const push = await kubeha(lab, [
      "certs",
      "render",
      "--node",
      "master-2",
      "--push",
      "-i",
      lab.inventoryFile,
    ]);
    assert.equal(push.code, 2, push.stdout + push.stderr);
    assert.match(
      push.stderr,
      /another kubeha run holds the cluster lock: other@elsewhere pid 4242 \(kubeha apply\)/,
    );
    assert.doesNotMatch(push.stdout, /wrote /);
    const out = join(lab.dir, "certs-out");
    const local = await kubeha(lab, [
      "certs",
      "render",
      "--node",
      "master-2",
      "--out",
      out,
      "-i",
      lab.inventoryFile,
    ]);
    assert.equal(local.code, 0, local.stdout + local.stderr);
    const plan = await kubeha(lab, ["plan", "-i", lab.inventoryFile]);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.doesNotMatch(plan.stdout + plan.stderr, /cluster lock/);
  });

  test("an expired lease is taken over with a warning; of two runs at once one converts, the other refuses before any change", async () => {
    assert.equal((await kubectl("delete", "lease", "kubeha-lock", "-n", "kube-system")).code, 0);
    const stale = {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name: "kubeha-lock", namespace: "kube-system" },
      spec: {
        holderIdentity: "gone@elsewhere pid 4242",
        leaseDurationSeconds: 60,
        acquireTime: "2026-01-01T10:00:00.000000Z",
        renewTime: "2026-01-01T10:05:00.000000Z",
      },
    };
    const file = join(lab.dir, "stale-lease.json");
    await writeFile(file, JSON.stringify(stale));
    const created = await kubectl("create", "--validate=false", "-f", file);
    assert.equal(created.code, 0, created.stderr);
    const backups = join(lab.stateDir, "backups");
    const before = await readdir(backups);

    const runs = await Promise.all([kubeha(lab, apply(), { timeoutMs: 300_000 }), kubeha(lab, apply())]);
    const winner = runs.find((x) => x.code === 0);
    const loser = runs.find((x) => x !== winner);
    assert.ok(winner && loser, runs.map((x) => `exit ${x.code}\n${x.stdout}${x.stderr}`).join("\n---\n"));
    assert.equal(loser.code, 2, loser.stdout + loser.stderr);

    const out = winner.stdout + winner.stderr;
    assert.match(
      out,
      /WARN took over the cluster lock kube-system\/kubeha-lock from gone@elsewhere pid 4242 \(held since 2026-01-01T10:00:00\.000Z\): it expired at 2026-01-01T10:06:00\.000Z/,
    );
    assert.match(out, /checks passed: the control plane is highly available/);
    const holder = /cluster lock kube-system\/kubeha-lock taken: (\S+@\S+ pid \d+)/.exec(out)?.[1];
    assert.ok(holder, out);

    // One line naming the winner, since when and until when; nothing written, not even a backup.
    const refusal = loser.stderr
      .split("\n")
      .filter((l) => l.startsWith("kubeha: ") && !l.startsWith("kubeha: full log"));
    assert.equal(refusal.length, 1, loser.stderr);
    assert.match(
      refusal[0]!,
      new RegExp(
        `another kubeha run holds the cluster lock: ${holder.replace(/[.]/g, "\\.")} \\(kubeha apply\\) since \\S+; it expires at \\S+ unless renewed\\. Nothing was changed\\.`,
      ),
    );
    assert.doesNotMatch(loser.stdout + loser.stderr, /backup to|journal:|: done \(/);
    assert.equal((await readdir(backups)).length, before.length + 1, "one backup: the winner's");

    assert.equal(await lease(), undefined, "the winner released the lock");
    const plan = await kubeha(lab, ["plan", "-i", lab.inventoryFile]);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /Plan: nothing to do: all \d+ steps are already done/);
  });
});
