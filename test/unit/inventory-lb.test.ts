// loadBalancer's modes: nginx (a host of its own, or a master on another port), keepalived (2-3 hosts and
// a virtual address), external (the operator's LB); old inventories without `mode` stay nginx.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parseInventory, type Problem } from "../../src/inventory/index.js";
import { entryPointSummary, LOAD_BALANCER_MODES } from "../../src/inventory/load-balancer.js";
import { controlHosts } from "../../src/inventory/types.js";

const head = `
ssh: { identityFile: /k/id }
primary: { name: master-1, address: 10.0.0.11, ssh: { user: admin, sudo: true } }
masters:
  - { name: master-2, address: 10.0.0.12 }
  - { name: master-3, address: 10.0.0.13 }
`;
const parse = (lb: string) =>
  parseInventory(`${head}loadBalancer:\n${lb}`, "/ops/inv.yaml", { fileState: () => "ok", homeDir: "/h" });
function ok(lb: string) {
  const r = parse(lb);
  assert.ok("inventory" in r, `expected a valid inventory, got ${JSON.stringify("errors" in r && r.errors)}`);
  return r;
}
function errors(lb: string): Problem[] {
  const r = parse(lb);
  assert.ok("errors" in r, "expected errors");
  return r.errors;
}
const at = (ps: Problem[], path: string): string => {
  const p = ps.find((x) => x.path === path);
  assert.ok(p, `no problem at ${path}: ${JSON.stringify(ps)}`);
  return p.message;
};

describe("loadBalancer modes", () => {
  it("an inventory without mode is nginx on one host, as before", () => {
    const { inventory: inv } = ok("  name: lb\n  address: 10.0.0.20\n");
    assert.equal(inv.loadBalancer.mode, "nginx");
    assert.deepEqual(
      inv.loadBalancer.hosts.map((h) => [h.name, h.address, h.role]),
      [["lb", "10.0.0.20", "loadBalancer"]],
    );
    assert.equal(inv.loadBalancer.address, "10.0.0.20");
    assert.equal(inv.loadBalancer.vrrp, undefined);
    assert.match(
      entryPointSummary(inv),
      /^Entry point \(nginx\): clients will use https:\/\/10\.0\.0\.20:6443; nginx on lb: a single point of failure$/,
    );
  });

  it("nginx on a master on another port: allowed with a warning, reached as that master is", () => {
    const { inventory: inv, warnings } = ok("  name: master-1\n  address: 10.0.0.11\n  port: 8443\n");
    assert.equal(inv.loadBalancer.address, "10.0.0.11");
    assert.equal(inv.loadBalancer.port, 8443);
    // One connection to the machine, with the master's own SSH settings.
    assert.deepEqual(
      controlHosts(inv).map((h) => h.name),
      ["master-1", "master-2", "master-3"],
    );
    assert.equal(inv.loadBalancer.hosts[0]!.ssh.user, "admin");
    assert.equal(inv.loadBalancer.hosts[0]!.ssh.sudo, true);
    assert.match(warnings[0]!.message, /shares that master's fate/);
    assert.equal(warnings[0]!.path, "loadBalancer");
    assert.match(
      entryPointSummary(inv),
      /nginx on master-1, a master: the entry point shares master-1's fate/,
    );
  });

  it("nginx on a master on 6443 is refused: the apiserver has that port", () => {
    const e = errors("  name: master-2\n  address: 10.0.0.12\n");
    assert.match(
      at(e, "loadBalancer.name"),
      /master-2 is a master, whose apiserver already listens on 6443: set loadBalancer.port/,
    );
  });

  it("a master's address under another name, or a master's name at another address, is refused", () => {
    assert.match(
      at(errors("  name: lb\n  address: 10.0.0.12\n  port: 8443\n"), "loadBalancer.address"),
      /written with that master's name and address/,
    );
    assert.match(
      at(errors("  name: master-2\n  address: 10.0.0.20\n  port: 8443\n"), "loadBalancer.name"),
      /already the name of masters\[0\]/,
    );
  });

  it("keepalived: 2 or 3 hosts, a free virtual address, router id and interface", () => {
    const { inventory: inv, warnings } = ok(
      "  mode: keepalived\n  hosts:\n    - { name: lb-1, address: 10.0.0.21 }\n    - { name: lb-2, address: 10.0.0.22 }\n  virtualAddress: 10.0.0.100\n",
    );
    assert.deepEqual(warnings, []);
    assert.equal(inv.loadBalancer.address, "10.0.0.100");
    assert.deepEqual(inv.loadBalancer.vrrp, { virtualRouterId: 51 });
    assert.deepEqual(
      inv.loadBalancer.hosts.map((h) => h.name),
      ["lb-1", "lb-2"],
    );
    assert.match(
      entryPointSummary(inv),
      /clients will use https:\/\/10\.0\.0\.100:6443; virtual address held by one of lb-1, lb-2/,
    );
    const on = ok(
      "  mode: keepalived\n  hosts:\n    - { name: master-1, address: 10.0.0.11 }\n    - { name: master-2, address: 10.0.0.12 }\n    - { name: master-3, address: 10.0.0.13 }\n  virtualAddress: 10.0.0.100\n  virtualRouterId: 7\n  interface: ens3\n  port: 8443\n",
    ).inventory;
    assert.deepEqual(on.loadBalancer.vrrp, { virtualRouterId: 7, interface: "ens3" });
    assert.equal(controlHosts(on).length, 3);
  });

  it("keepalived: refuses the wrong number of hosts, a taken virtual address and nginx's fields", () => {
    const one = errors(
      "  mode: keepalived\n  hosts:\n    - { name: lb-1, address: 10.0.0.21 }\n  virtualAddress: 10.0.0.100\n",
    );
    assert.match(at(one, "loadBalancer.hosts"), /keepalived needs 2 or 3 hosts, not 1/);
    const two =
      "  mode: keepalived\n  hosts:\n    - { name: lb-1, address: 10.0.0.21 }\n    - { name: lb-2, address: 10.0.0.22 }\n";
    assert.match(
      at(errors(`${two}  virtualAddress: 10.0.0.22\n`), "loadBalancer.virtualAddress"),
      /the virtual address must be a free one/,
    );
    assert.match(
      at(errors(`${two}  virtualAddress: 10.0.0.12\n`), "loadBalancer.virtualAddress"),
      /is the address of masters\[0\]/,
    );
    assert.match(at(errors(two), "loadBalancer.virtualAddress"), /is required with mode: keepalived/);
    const mixed = errors(`${two}  virtualAddress: 10.0.0.100\n  name: lb\n  clientAddress: 10.0.0.5\n`);
    assert.match(at(mixed, "loadBalancer.name"), /is not used with mode: keepalived/);
    assert.match(at(mixed, "loadBalancer.clientAddress"), /clients use virtualAddress/);
    assert.match(
      at(
        errors(`${two}  virtualAddress: 10.0.0.100\n  virtualRouterId: 300\n`),
        "loadBalancer.virtualRouterId",
      ),
      /must be 1–255, not 300/,
    );
  });

  it("external: an address and port, no host to log in to", () => {
    const { inventory: inv } = ok("  mode: external\n  address: 10.0.0.50\n  port: 443\n");
    assert.deepEqual(inv.loadBalancer.hosts, []);
    assert.equal(inv.loadBalancer.address, "10.0.0.50");
    assert.equal(controlHosts(inv).length, 3);
    assert.match(entryPointSummary(inv), /your load balancer; kubeha checks it but does not configure it/);
    const e = errors("  mode: external\n  name: lb\n  address: 10.0.0.50\n  ssh: { user: x }\n");
    assert.match(at(e, "loadBalancer.ssh"), /kubeha does not log in to an external load balancer/);
    assert.match(
      at(errors("  mode: external\n  address: 10.0.0.11\n"), "loadBalancer.address"),
      /clients must reach the load balancer, not one master/,
    );
  });

  it("names the modes, each explained in one line", () => {
    assert.deepEqual(
      LOAD_BALANCER_MODES.map((m) => m.mode),
      ["nginx", "keepalived", "external"],
    );
    assert.match(
      at(errors("  mode: haproxy\n  name: lb\n  address: 10.0.0.20\n"), "loadBalancer.mode"),
      /"haproxy" is not a mode: nginx, keepalived, external/,
    );
  });
});

describe("the example inventories of each mode", () => {
  for (const [file, mode] of [
    ["example.yaml", "nginx"],
    ["nginx-on-master.yaml", "nginx"],
    ["keepalived.yaml", "keepalived"],
    ["external.yaml", "external"],
  ] as const) {
    it(`inventory/${file} is valid, mode ${mode}`, () => {
      const text = readFileSync(new URL(`../../../inventory/${file}`, import.meta.url), "utf8");
      const r = parseInventory(text, `inventory/${file}`, { fileState: () => "ok", homeDir: "/h" });
      assert.ok("inventory" in r, JSON.stringify(r));
      assert.equal(r.inventory.loadBalancer.mode, mode);
    });
  }
});
