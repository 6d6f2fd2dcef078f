// The conversion's graph (src/plan/build.ts conversionGraph) for a three-master inventory, with fake
// steps: no cycle, the entry point before what goes through it, etcd's membership one change at a time, each
// control plane after its own member, the clients together at the end; and the plan showing it.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, test } from "node:test";
import { conversionGraph, ETCD_MEMBERSHIP, type ConversionSteps } from "../../src/plan/build.js";
import { checkGraph, DEFAULT_LIMITS, inSequence, waves } from "../../src/plan/graph.js";
import { planDetails, planJson, planSummary } from "../../src/plan/format.js";
import { Journal } from "../../src/plan/journal.js";
import { runPlan } from "../../src/plan/runner.js";
import type { Step } from "../../src/engine/step.js";
import type { RunContext } from "../../src/engine/context.js";

function fake(id: string, host: string, over: Partial<Step> = {}): Step {
  return {
    id,
    phase: id.split("/")[0]!,
    host,
    title: id,
    why: "because",
    files: [],
    details: [],
    rollback: "",
    isDone: async () => false,
    run: async () => {},
    verify: async () => {},
    ...over,
  };
}

function conversion(opts: { peerFix?: boolean; external?: boolean } = {}): ConversionSteps {
  const masters = ["master-2", "master-3"];
  return {
    entryPoint: [fake("load-balancer/lb", "lb")],
    ...(opts.peerFix && { peerFix: fake("etcd/master-1/peer-urls", "master-1") }),
    apiserverCert: fake("pki/master-1/apiserver", "master-1"),
    masters: masters.map((m) => ({
      etcdPki: fake(`pki/${m}/etcd`, m),
      pki: fake(`pki/${m}`, m),
      etcd: fake(`etcd/${m}`, m),
      controlPlane: fake(`control-plane/${m}`, m),
      controlPlaneHealth: fake(`control-plane/${m}/healthz`, m, { waitsOnly: true }),
    })),
    ...(opts.external && { externalLb: fake("external-lb/backends", "master-1") }),
    clients: [
      fake("clients/kube-proxy", "cluster"),
      fake("clients/cluster-info", "cluster"),
      fake("clients/kubeadm-config", "cluster"),
      ...masters.map((m) => fake(`clients/node-role/${m}`, m)),
      ...["master-1", ...masters].map((m) => fake(`clients/kubeconfigs/${m}`, m)),
    ],
    workers: fake("clients/workers", "workers"),
  };
}

/** Every step `id` needs, directly or not. */
function ancestors(steps: Step[], id: string): Set<string> {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const out = new Set<string>();
  const walk = (x: string): void => {
    for (const n of byId.get(x)!.needs ?? []) {
      if (out.has(n)) continue;
      out.add(n);
      walk(n);
    }
  };
  walk(id);
  return out;
}

const ids = (w: Step[][]) => w.map((x) => x.map((s) => s.id));

describe("the conversion's graph", () => {
  for (const opts of [{}, { peerFix: true }, { peerFix: true, external: true }]) {
    test(`no cycle; the safety order kept (${JSON.stringify(opts)})`, () => {
      const steps = conversionGraph(conversion(opts));
      checkGraph(steps);
      // Listed in an order the runner could take: every need comes before the step.
      steps.forEach((s, i) =>
        (s.needs ?? []).forEach((n) => assert.ok(steps.findIndex((x) => x.id === n) < i, `${s.id} ← ${n}`)),
      );
      // What goes through the LB waits for it; etcd's growth and the certificates go on beside it
      // (its configuration was tested on a copy before the first change: Step.check).
      for (const s of steps.slice(1)) {
        const through = /^(control-plane|clients|external-lb)\//.test(s.id);
        assert.equal(
          ancestors(steps, s.id).has("load-balancer/lb"),
          through,
          `${s.id} after the LB: ${through}`,
        );
      }
      // etcd: one change at a time, in order, each join after that master's certificates.
      const etcd = steps.filter((s) => s.exclusive?.includes(ETCD_MEMBERSHIP)).map((s) => s.id);
      assert.deepEqual(etcd, [
        ...(opts.peerFix ? ["etcd/master-1/peer-urls"] : []),
        "etcd/master-2",
        "etcd/master-3",
      ]);
      for (let i = 1; i < etcd.length; i++) assert.ok(ancestors(steps, etcd[i]!).has(etcd[i - 1]!));
      for (const m of ["master-2", "master-3"]) {
        // The join needs only etcd's certificates and the kubelet; the control plane all of them.
        assert.ok(ancestors(steps, `etcd/${m}`).has(`pki/${m}/etcd`));
        assert.ok(!ancestors(steps, `etcd/${m}`).has(`pki/${m}`));
        assert.ok(ancestors(steps, `control-plane/${m}`).has(`etcd/${m}`));
        assert.ok(ancestors(steps, `control-plane/${m}`).has(`pki/${m}`));
      }
      // Every client after every apiserver serves with the LB's names (and an external LB reaches them).
      for (const c of steps.filter((s) => s.id.startsWith("clients/"))) {
        const a = ancestors(steps, c.id);
        for (const need of ["control-plane/master-2", "control-plane/master-3", "pki/master-1/apiserver"])
          assert.ok(a.has(need), `${c.id} after ${need}`);
        if (opts.external) assert.ok(a.has("external-lb/backends"));
      }
      // The workers last: when one cannot be reached, every other step is done.
      assert.deepEqual(
        [...ancestors(steps, "clients/workers")].filter((id) => id.startsWith("clients/")).sort(),
        steps
          .filter((s) => s.id.startsWith("clients/") && s.id !== "clients/workers")
          .map((s) => s.id)
          .sort(),
      );
      assert.equal(steps.at(-1)!.id, "clients/workers");
    });
  }

  test("waves: the LB beside the certificates, a join before the rest of its master's certificates, joins apart", () => {
    const w = ids(waves(conversionGraph(conversion({ peerFix: true })), new Set()));
    assert.deepEqual(w, [
      ["load-balancer/lb", "etcd/master-1/peer-urls", "pki/master-2/etcd", "pki/master-3/etcd"],
      ["etcd/master-2", "pki/master-3", "pki/master-1/apiserver"],
      ["pki/master-2", "etcd/master-3"],
      ["control-plane/master-2", "control-plane/master-3"],
      [
        "clients/kube-proxy",
        "clients/cluster-info",
        "clients/kubeadm-config",
        "clients/node-role/master-2",
        "clients/node-role/master-3",
        "clients/kubeconfigs/master-1",
        // Waits only: no host slot, so beside the node-role steps on the same masters.
        "control-plane/master-2/healthz",
        "control-plane/master-3/healthz",
      ],
      ["clients/kubeconfigs/master-2", "clients/kubeconfigs/master-3"],
      ["clients/workers"],
    ]);
  });

  test("the controller-manager and scheduler are waited for after their control plane, beside the clients and the workers", () => {
    const steps = conversionGraph(conversion());
    for (const m of ["master-2", "master-3"]) {
      assert.ok(ancestors(steps, `control-plane/${m}/healthz`).has(`control-plane/${m}`));
      for (const c of steps.filter((s) => s.id.startsWith("clients/")))
        assert.ok(!ancestors(steps, c.id).has(`control-plane/${m}/healthz`), `${c.id} does not wait for it`);
    }
  });

  test("run for real by the runner: etcd's changes never overlap, one step per machine", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kubeha-graph-"));
    try {
      let etcdNow = 0;
      let etcdMax = 0;
      const perHost = new Map<string, number>();
      let hostMax = 0;
      let maxAll = 0;
      let all = 0;
      const steps = conversionGraph(conversion({ peerFix: true })).map((s) => ({
        ...s,
        run: async () => {
          const etcd = s.exclusive?.includes(ETCD_MEMBERSHIP);
          if (etcd) etcdMax = Math.max(etcdMax, ++etcdNow);
          maxAll = Math.max(maxAll, ++all);
          // A step that only waits takes no host slot.
          const slot = !DEFAULT_LIMITS.shared.has(s.host) && !s.waitsOnly;
          const h = (perHost.get(s.host) ?? 0) + (slot ? 1 : 0);
          perHost.set(s.host, h);
          hostMax = Math.max(hostMax, h);
          await sleep(10);
          perHost.set(s.host, perHost.get(s.host)! - (slot ? 1 : 0));
          all--;
          if (etcd) etcdNow--;
        },
      }));
      const quiet = { step() {}, begin() {}, end() {}, debug() {}, warn() {} };
      const r = await runPlan({ reporter: quiet } as unknown as RunContext, steps, new Journal(dir), {
        beforeFirstChange: async () => {},
      });
      assert.equal(r.ran, steps.length);
      assert.equal(etcdMax, 1);
      assert.equal(hostMax, 1);
      assert.ok(maxAll >= 3 && maxAll <= DEFAULT_LIMITS.global, `at most ${maxAll} at once`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("the runner's preference on a host: the first join before its master's other certificates, a later join after them", () => {
    const order = conversionGraph(conversion()).map((s) => s.id);
    const at = (id: string) => order.indexOf(id);
    assert.ok(at("pki/master-2/etcd") < at("etcd/master-2"));
    assert.ok(at("etcd/master-2") < at("pki/master-2"));
    assert.ok(at("pki/master-3") < at("etcd/master-3"));
  });

  test("a procedure in sequence: each step needs the one before, one step per wave", () => {
    const steps = inSequence([fake("a", "x"), fake("b", "y"), fake("c", "z")]);
    assert.deepEqual(
      steps.map((s) => s.needs ?? []),
      [[], ["a"], ["b"]],
    );
    assert.deepEqual(ids(waves(steps, new Set())), [["a"], ["b"], ["c"]]);
  });
});

describe("the plan shows the graph", () => {
  const steps = conversionGraph(conversion({ peerFix: true }));

  test("the summary: each wave under its name, within 80 columns, numbered in the run's order", () => {
    const planned = steps.map((step) => ({ step, done: step.id === "load-balancer/lb" }));
    const text = planSummary(planned, "/state/backups/20261205T000000Z", 80);
    const lines = text.split("\n");
    assert.ok(Math.max(...lines.map((l) => l.length)) <= 80, text);
    assert.match(text, /run at the same time \(one at a time per host\)/);
    const at = (re: RegExp) => lines.findIndex((l) => re.test(l));
    assert.ok(at(/^already done:$/) < at(/^ 1\. lb .* done$/));
    assert.ok(at(/^wave 1:$/) < at(/^ 2\. master-1 +etcd peer URL off localhost/));
    assert.ok(at(/^ 4\. master-3 /) < at(/^wave 2:$/));
    assert.equal(lines.filter((l) => /^wave \d+:$/.test(l)).length, 7);
    // A wait of its own says what it waits for, not what the step before it did.
    assert.match(text, /\d\. master-3 +controller-manager, scheduler — wait for \/healthz/);
    assert.equal(lines.filter((l) => /start the control plane/.test(l)).length, 2);
    // A sequence (a rollback) is listed as it always was: no waves.
    const serial = planSummary(
      inSequence(steps).map((step) => ({ step, done: false })),
      "/b",
      80,
    );
    assert.doesNotMatch(serial, /wave|same time/);
  });

  test("the details in the run's order; JSON gives each step's needs and wave", () => {
    const planned = steps.map((step) => ({ step, done: false }));
    const text = planDetails(planned, { width: 80, elide: true });
    assert.match(text, /^9\. \[master-3\] etcd\/master-3$/m);
    assert.match(text, /^10\. \[master-2\] control-plane\/master-2$/m);
    const json = planJson(planned, "/b");
    const m3 = json.steps.find((s) => s.id === "etcd/master-3")!;
    assert.deepEqual(m3.needs, ["pki/master-3/etcd", "etcd/master-2"]);
    assert.equal(m3.wave, 3);
  });
});
