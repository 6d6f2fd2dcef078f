// `kubeha rollback` of a keepalived layout (two LB hosts, lb-1 with a keepalived.conf of the
// operator's before the conversion): the virtual address let go, lb-1's own configuration back,
// lb-2's keepalived stopped, nginx no longer on the API's port, master-1 alone. Checked with ip,
// ss, systemctl (the lab's shim tracks the real keepalived's PID), etcdctl and kubectl.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { kubeha } from "./kubeha.js";
import { etcdctl } from "./etcdctl.js";
import { nodeNames } from "./control-plane-checks.js";
import { sharedLab } from "./shared-lab.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();
const CONF = "/etc/keepalived/keepalived.conf";
const OPERATORS =
  "# the operator's own keepalived (no address of the API's)\nglobal_defs {\n    router_id operator_lb1\n}\n";

describe("rollback of a keepalived layout", { skip }, () => {
  const lab = sharedLab({ workers: 1, bulkKeys: 100, loadBalancer: { mode: "keepalived" } });
  const cli = (...args: string[]) =>
    kubeha(lab(), [...args, "-i", lab().inventoryFile], { timeoutMs: 400_000 });
  const holders = async () => {
    const held = await Promise.all(
      lab().lbHosts.map(async (h) => {
        const r = await lab().exec(h.name, ["ip", "-o", "addr", "show", "dev", "eth0"]);
        return r.stdout.includes(` ${lab().lbAddress}/32 `) ? h.name : "";
      }),
    );
    return held.filter(Boolean);
  };
  const running = async (host: string) =>
    (await lab().exec(host, ["systemctl", "is-active", "--quiet", "keepalived"])).code === 0;

  test("converted, then rolled back: the address let go, lb-1's own keepalived.conf back, lb-2's keepalived stopped", async () => {
    const l = lab();
    const w = await l.exec("lb-1", ["sh", "-c", `mkdir -p /etc/keepalived && cat > ${CONF}`], {
      stdin: OPERATORS,
    });
    assert.equal(w.code, 0, w.stderr);
    const applied = await cli("apply", "--yes");
    assert.equal(applied.code, 0, applied.stdout + applied.stderr);
    assert.equal((await holders()).length, 1);

    const plan = await cli("plan", "--rollback");
    assert.equal(plan.code, 0, plan.stdout + plan.stderr);
    assert.match(plan.stdout, /keepalived on lb-1: its configuration from before kubeha put back/);
    assert.match(plan.stdout, /keepalived on lb-2: stopped, kubeha's configuration moved aside/);
    // keepalived lets go of the address before nginx stops serving the API.
    assert.ok(plan.stdout.indexOf("keepalived on lb-2") < plan.stdout.indexOf("from nginx on lb-1"));

    const r = await cli("rollback", "--yes");
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /checks passed: the cluster is back to a single master/);
    assert.deepEqual(await holders(), []);
    assert.equal((await l.exec("lb-1", ["cat", CONF])).stdout, OPERATORS);
    assert.ok(await running("lb-1"), "lb-1's keepalived goes on with the operator's configuration");
    assert.equal((await l.exec("lb-2", ["test", "-e", CONF])).code, 1);
    assert.ok(!(await running("lb-2")), "lb-2's keepalived was kubeha's only: stopped");
    for (const h of l.lbHosts)
      assert.doesNotMatch((await l.exec(h.name, ["ss", "-Htln"])).stdout, /:6443\b/, h.name);
    const list = await etcdctl(l, [l.primary.address], "member", "list", "-w", "json");
    assert.equal(list.code, 0, list.stderr);
    assert.deepEqual(
      (JSON.parse(list.stdout) as { members: { name?: string }[] }).members.map((m) => m.name),
      ["master-1"],
    );
    assert.deepEqual(await nodeNames(l), ["master-1", "worker-1"]);

    const again = await cli("rollback", "--yes");
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /nothing to do/);
  });
});
