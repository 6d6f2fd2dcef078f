// The plan is the run: `plan` records each step's effects from the step's own code (changing
// nothing), `apply` records what it carried out, and the two must be equal step by step, normalised
// only where a plan cannot know the value (test/helpers/effects.ts says which).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { kubeha } from "./kubeha.js";
import { labSkip } from "../helpers/skip.js";
import { effectDifferences, type StepEffects } from "../helpers/effects.js";
import type { Effect } from "../../src/effects/types.js";

const skip = labSkip();

async function effectsOf(file: string): Promise<StepEffects[]> {
  return (JSON.parse(await readFile(file, "utf8")) as { steps: StepEffects[] }).steps;
}

const kinds = (steps: StepEffects[]) => new Set(steps.flatMap((s) => s.effects.map((e) => e.kind)));

describe("plan equals apply, effect by effect", { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  test("every step's planned effects are the ones apply carries out", async () => {
    const planFile = join(lab.dir, "planned-effects.json");
    const applyFile = join(lab.dir, "applied-effects.json");
    const plan = await kubeha(lab, ["plan", "-i", lab.inventoryFile, "--effects-json", planFile]);
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.doesNotMatch(plan.stdout, /what follows depends on this step really running/);
    const help = await kubeha(lab, ["plan", "--help"]);
    assert.doesNotMatch(help.stdout, /effects-json/, "an option for tests only, not in the help");
    const apply = await kubeha(lab, ["apply", "--yes", "-i", lab.inventoryFile, "--effects-json", applyFile]);
    assert.equal(apply.code, 0, apply.stdout + apply.stderr);
    const planned = await effectsOf(planFile);
    const applied = await effectsOf(applyFile);

    // The whole conversion, and every kind of effect in it.
    assert.ok(planned.length >= 14, `${planned.length} steps planned`);
    assert.deepEqual([...kinds(planned)].sort(), ["api", "command", "etcd", "file", "wait"]);
    // Foreseen as nothing to do (the certificate step writes the new masters' kubeconfigs through the
    // LB already), and found already done by apply.
    const empty = planned.filter((s) => s.effects.length === 0).map((s) => s.id);
    assert.deepEqual(empty, ["clients/kubeconfigs/master-2", "clients/kubeconfigs/master-3"]);
    // The same steps; the order is the graph's (steps of one wave start together).
    assert.deepEqual(
      applied.map((s) => s.id).sort(),
      planned
        .map((s) => s.id)
        .filter((id) => !empty.includes(id))
        .sort(),
    );
    const etcd = planned.flatMap((s) => s.effects).filter((e) => e.kind === "etcd");
    assert.deepEqual(
      etcd.map((e) => `${e.op} ${e.member}`),
      ["add-learner master-2", "promote master-2", "add-learner master-3", "promote master-3"],
    );
    // The --initial-cluster the plan shows comes from the member add's answer, as apply's does.
    const manifest = (list: StepEffects[]) =>
      list
        .find((s) => s.id === "etcd/master-3")!
        .effects.find((e): e is Extract<Effect, { kind: "file" }> => e.kind === "file")!.content!;
    assert.match(manifest(planned), /--initial-cluster=master-1=https:\/\/[\d.]+:2380,master-2=.*,master-3=/);
    assert.equal(manifest(planned), manifest(applied));

    assert.deepEqual(effectDifferences(planned, applied), []);

    // Secrets: hashes and descriptions only.
    const text = (await readFile(planFile, "utf8")) + (await readFile(applyFile, "utf8"));
    assert.doesNotMatch(text, /PRIVATE KEY-----/);
    assert.doesNotMatch(text, /client-key-data/);

    // The comparison fails on any drift: one effect left out, one file's content changed.
    const dropped = planned.map((s) => ({
      ...s,
      effects: s.id === "pki/master-2" ? s.effects.slice(1) : s.effects,
    }));
    assert.notDeepEqual(effectDifferences(dropped, applied), []);
    const altered = structuredClone(planned);
    const f = altered
      .find((s) => s.id === "control-plane/master-2")!
      .effects.find((e): e is Extract<Effect, { kind: "file" }> => e.kind === "file")!;
    f.content = f.content!.replace("--advertise-address=", "--advertise-address=1");
    assert.match(effectDifferences(altered, applied).join("\n"), /control-plane\/master-2 \[master-2\] #1/);
  });
});
