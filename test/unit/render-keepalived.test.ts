// keepalived.conf: unicast VRRP between the LB hosts, priorities by rank, a health check through the
// local nginx, and the real `keepalived -t` accepting it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { renderKeepalived, type KeepalivedOptions } from "../../src/render/keepalived.js";
import { interfaceHolding, keepalivedFacts, keepalivedFindings } from "../../src/discover/keepalived.js";
import type { HostFacts } from "../../src/discover/types.js";

const base: KeepalivedOptions = {
  name: "lb-1",
  address: "10.0.0.21",
  peers: ["10.0.0.22", "10.0.0.23"],
  rank: 0,
  virtualAddress: "10.0.0.100",
  virtualRouterId: 51,
  interface: "eth0",
  port: 8443,
};

describe("keepalived configuration", () => {
  it("unicast peers, the virtual address, priority by rank and a check through the local nginx", () => {
    const conf = renderKeepalived(base);
    assert.match(conf, /unicast_src_ip 10\.0\.0\.21\n/);
    assert.match(conf, /unicast_peer \{\n\s+10\.0\.0\.22\n\s+10\.0\.0\.23\n\s+\}/);
    assert.match(conf, /10\.0\.0\.100\/32 dev eth0/);
    assert.match(conf, /virtual_router_id 51\n/);
    assert.match(conf, /priority 150\n/);
    assert.match(renderKeepalived({ ...base, rank: 2 }), /priority 130\n/);
    assert.match(conf, /script "\/usr\/bin\/curl .*https:\/\/127\.0\.0\.1:8443\/healthz"/);
    // A failing holder must fall below the lowest healthy host: 150 - weight < 130.
    const weight = Number(/weight -(\d+)/.exec(conf)?.[1]);
    assert.ok(150 - weight < 130, `weight ${weight}`);
    assert.doesNotMatch(conf, /nopreempt/);
  });

  it("refuses what would break the file or VRRP", () => {
    assert.throws(() => renderKeepalived({ ...base, interface: "eth0 }" }), /not an interface name/);
    assert.throws(() => renderKeepalived({ ...base, peers: [] }), /no peer/);
    assert.throws(() => renderKeepalived({ ...base, virtualAddress: "fd00::1" }), /one IP family/);
    assert.throws(() => renderKeepalived({ ...base, peers: ["lb-2"] }), /not an IP address/);
    assert.throws(() => renderKeepalived({ ...base, virtualRouterId: 0 }), /not 1–255/);
  });

  it(
    "keepalived -t accepts it",
    { skip: spawnSync("keepalived", ["--version"]).error ? "keepalived not installed" : false },
    () => {
      const dir = mkdtempSync(join(tmpdir(), "kubeha-keepalived-"));
      try {
        const file = join(dir, "keepalived.conf");
        writeFileSync(file, renderKeepalived(base));
        const r = spawnSync("keepalived", ["-t", "-f", file], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stdout + r.stderr);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it("finds the interface holding a host's address in `ip -o addr show`", () => {
    const out = [
      "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
      "2: eth0    inet 10.0.0.21/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever",
      "3: ens4@if9    inet6 fd00::21/64 scope global \\       valid_lft forever",
    ].join("\n");
    assert.equal(interfaceHolding(out, "10.0.0.21"), "eth0");
    assert.equal(interfaceHolding(out, "[fd00::21]"), "ens4");
    assert.equal(interfaceHolding(out, "10.0.0.22"), undefined);
  });
});

describe("keepalived mode's discovery", () => {
  const ip = "2: eth0    inet 10.0.0.21/24 brd 10.0.0.255 scope global eth0";
  const host = (keepalived: HostFacts["keepalived"]): HostFacts => ({
    name: "lb-1",
    role: "loadBalancer",
    busyPorts: [],
    manifests: [],
    keepalived,
  });

  it("reads keepalived's version, curl's path and the address's interface from the probe", () => {
    const facts = keepalivedFacts(
      { keepalived: "Keepalived v2.2.7 (01/16,2022)", curl: "/usr/bin/curl", addresses: ip },
      "10.0.0.21",
    );
    assert.deepEqual(facts, { version: "2.2.7", curl: "/usr/bin/curl", interface: "eth0" });
    assert.deepEqual(keepalivedFindings(host(facts), "10.0.0.21", undefined), []);
  });

  it("names what is missing on the host, with the command that installs it", () => {
    const facts = keepalivedFacts({ keepalived: "", curl: "", addresses: ip }, "10.0.0.99");
    const f = keepalivedFindings(host(facts), "10.0.0.99", undefined);
    assert.deepEqual(
      f.map((x) => x.message.split(" (")[0]),
      [
        "keepalived is not installed",
        "curl is not installed",
        "no interface holds 10.0.0.99, so the virtual address has nowhere to go",
      ],
    );
    assert.match(f[0]!.fix ?? "", /apt-get install keepalived/);
    // An interface written in the inventory is used as it is.
    assert.equal(keepalivedFindings(host(facts), "10.0.0.99", "eth1").length, 2);
  });
});
