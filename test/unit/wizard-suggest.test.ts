import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseInventory } from "../../src/inventory/index.js";
import type { WizardAnswers } from "../../src/wizard/answers.js";
import { PendingHostKeys } from "../../src/wizard/host-keys.js";
import { LB_LAYOUTS, layoutMode } from "../../src/wizard/layouts.js";
import { nodeEntries, workerSuggestions } from "../../src/wizard/nodes.js";
import { fitQuestion } from "../../src/wizard/prompt.js";
import { renderInventory } from "../../src/wizard/render.js";

const node = (name: string, ip: string | undefined, labels: Record<string, string> = {}, ready = true) => ({
  metadata: { name, labels },
  status: {
    ...(ip && {
      addresses: [
        { type: "Hostname", address: name },
        { type: "InternalIP", address: ip },
      ],
    }),
    conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
  },
});

describe("workers suggested from the cluster's Nodes", () => {
  const nodes = nodeEntries([
    node("master-1", "10.0.0.11", { "node-role.kubernetes.io/control-plane": "" }),
    node("master-2", "10.0.0.12"),
    node("worker-1", "10.0.0.31"),
    node("worker-2", "10.0.0.32", {}, false),
    node("worker-3", undefined),
  ]);

  it("reads name, InternalIP, role and readiness", () => {
    assert.deepEqual(nodes[0], {
      name: "master-1",
      internalIP: "10.0.0.11",
      controlPlane: true,
      ready: true,
    });
    assert.deepEqual(nodes[3], {
      name: "worker-2",
      internalIP: "10.0.0.32",
      controlPlane: false,
      ready: false,
    });
    assert.equal(nodes[4]!.internalIP, undefined);
  });

  it("offers the Nodes that are not control-plane, have an address and are not already answered", () => {
    const offered = workerSuggestions(nodes, new Set(["master-1", "master-2"]), new Set(["10.0.0.11"]));
    assert.deepEqual(
      offered.map((n) => [n.name, n.internalIP]),
      [
        ["worker-1", "10.0.0.31"],
        ["worker-2", "10.0.0.32"],
      ],
    );
    // A worker's address already given to another host is not offered again.
    assert.deepEqual(
      workerSuggestions(nodes, new Set(), new Set(["10.0.0.31", "10.0.0.12"])).map((n) => n.name),
      ["worker-2"],
    );
  });
});

describe("load-balancer layouts", () => {
  it("offers today's nginx host first, then every other layout kubeha supports", () => {
    assert.deepEqual(
      LB_LAYOUTS.map((l) => l.id),
      ["nginx-host", "nginx-master", "keepalived", "external"],
    );
    // One line each, room left for the list's cursor and mark at 80 columns.
    for (const l of LB_LAYOUTS) assert.ok(l.line.length <= 74, l.line);
  });

  it("records the mode only when it is not nginx", () => {
    assert.deepEqual(
      LB_LAYOUTS.map((l) => layoutMode(l)),
      [undefined, undefined, "keepalived", "external"],
    );
  });
});

describe("the wizard's own text", () => {
  it("wraps a question at spaces, leaving room for the answer", () => {
    const q = fitQuestion(
      "Accept host keys not yet in it (recorded there once you confirm the inventory; a changed key is always refused)?",
      80,
    );
    const lines = q.split("\n");
    assert.ok(lines.length > 1);
    assert.ok(
      lines.every((l) => l.length <= 80 - 2 - 20),
      q,
    );
    assert.ok(lines.slice(1).every((l) => l.startsWith("  ")));
    assert.equal(fitQuestion("SSH port:", 80), "SSH port:");
  });

  it("writes a worker kept while unreachable with a comment, and loadBalancer.mode only when not nginx", () => {
    const a: WizardAnswers = {
      ssh: {
        user: "root",
        port: 22,
        identityFile: "~/.ssh/id_ed25519",
        sudo: false,
        knownHostsFile: "~/.ssh/known_hosts",
        acceptNewHostKeys: false,
      },
      primary: { name: "master-1", address: "10.0.0.11" },
      masters: [
        { name: "master-2", address: "10.0.0.12" },
        { name: "master-3", address: "10.0.0.13" },
      ],
      loadBalancer: { name: "lb", address: "10.0.0.20", clientAddress: "10.0.0.20", port: 6443 },
      workers: [
        { name: "worker-1", address: "10.0.0.31" },
        {
          name: "worker-2",
          address: "10.0.0.32",
          unreachable: "host worker-2 (10.0.0.32:22): host unreachable",
        },
      ],
    };
    const text = renderInventory(a);
    assert.match(
      text,
      /^ {4}# could not be reached when written \(host worker-2 .*\): apply skips it until it can be$/m,
    );
    assert.doesNotMatch(text, /mode:/);
    const r = parseInventory(text, "/ops/x.yaml", { fileState: () => "ok", homeDir: "/root" });
    assert.ok("inventory" in r, JSON.stringify("errors" in r && r.errors));
    assert.deepEqual(
      r.inventory.workers.map((w) => w.name),
      ["worker-1", "worker-2"],
    );
    const parse = (t: string) => {
      const p = parseInventory(t, "/ops/x.yaml", { fileState: () => "ok", homeDir: "/root" });
      assert.ok("inventory" in p, `${t}\n${JSON.stringify("errors" in p && p.errors)}`);
      return p.inventory.loadBalancer;
    };
    // keepalived on the control-plane hosts (not 6443, their apiservers' port), the VIP what clients use.
    const vip = "10.0.0.100";
    const keepalived = renderInventory({
      ...a,
      loadBalancer: {
        name: "keepalived",
        address: vip,
        clientAddress: vip,
        port: 8443,
        mode: "keepalived",
        hosts: [a.primary, ...a.masters],
      },
    });
    assert.match(keepalived, /^loadBalancer:\n {2}mode: keepalived /m);
    const k = parse(keepalived);
    assert.equal(k.mode, "keepalived");
    assert.equal(k.address, vip);
    assert.deepEqual(
      k.hosts.map((h) => h.name),
      ["master-1", "master-2", "master-3"],
    );
    const external = parse(
      renderInventory({
        ...a,
        loadBalancer: {
          name: "external",
          address: "10.0.0.50",
          clientAddress: "10.0.0.50",
          port: 6443,
          mode: "external",
        },
      }),
    );
    assert.equal(external.mode, "external");
    assert.equal(external.address, "10.0.0.50");
    assert.deepEqual(external.hosts, []);
  });
});

describe("host keys accepted while answering", () => {
  it("are checked against a copy and written to known_hosts only on commit", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kubeha-test-"));
    try {
      const file = join(dir, "known_hosts");
      await writeFile(file, "10.0.0.11 ssh-ed25519 AAAAprimary");
      const keys = new PendingHostKeys();
      // The transport appends to the file it is given, as it would to the real one.
      const seen = await keys.around(file, "master-2 (10.0.0.12)", async (copy) => {
        assert.notEqual(copy, file);
        const text = await readFile(copy, "utf8");
        await appendFile(copy, "10.0.0.12 ssh-ed25519 AAAAmaster2\n");
        return text;
      });
      assert.equal(seen, "10.0.0.11 ssh-ed25519 AAAAprimary\n");
      assert.equal(await readFile(file, "utf8"), "10.0.0.11 ssh-ed25519 AAAAprimary");
      // A second probe sees the key accepted before (no second prompt, no duplicate); a failing
      // probe still keeps what it accepted, and its error names the real file.
      await assert.rejects(
        keys.around(file, "lb (10.0.0.20)", async (copy) => {
          assert.match(await readFile(copy, "utf8"), /AAAAmaster2/);
          await appendFile(copy, "10.0.0.20 ssh-ed25519 AAAAlb\n");
          throw new Error(`host key unknown: not in ${copy}`);
        }),
        new RegExp(`not in ${file}$`),
      );
      assert.deepEqual(
        keys.pending.map((k) => k.host),
        ["master-2 (10.0.0.12)", "lb (10.0.0.20)"],
      );
      assert.equal(await readFile(file, "utf8"), "10.0.0.11 ssh-ed25519 AAAAprimary");
      await keys.commit();
      assert.equal(
        await readFile(file, "utf8"),
        "10.0.0.11 ssh-ed25519 AAAAprimary\n10.0.0.12 ssh-ed25519 AAAAmaster2\n10.0.0.20 ssh-ed25519 AAAAlb\n",
      );
      assert.equal(keys.pending.length, 0);
      await keys.dispose();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
