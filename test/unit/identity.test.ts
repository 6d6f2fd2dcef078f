// Host identity's pure rules: what a probe's sections say, when two entries are one machine, and
// when an entry's name is not the cluster's name for its machine.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  hostIdentity,
  nodeFacts,
  nodeIsHost,
  nodeNameFindings,
  ownAddresses,
  sameMachineFindings,
} from "../../src/discover/identity.js";
import type { HostIdentity, NodeFact } from "../../src/discover/types.js";

const IP_ADDR = [
  "1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever",
  "1: lo    inet6 ::1/128 scope host noprefixroute \\       valid_lft forever preferred_lft forever",
  "2: eth0    inet 10.0.0.31/24 brd 10.0.0.255 scope global eth0\\       valid_lft forever preferred_lft forever",
  "2: eth0    inet 10.0.0.131/24 scope global secondary eth0\\       valid_lft forever preferred_lft forever",
  "2: eth0    inet6 fd00::31/64 scope global \\       valid_lft forever preferred_lft forever",
  "2: eth0    inet6 fe80::dc17:d0ff:fedf:962a/64 scope link \\       valid_lft forever preferred_lft forever",
].join("\n");

function id(over: Partial<HostIdentity> & { name: string; address: string }): HostIdentity {
  return { role: "worker", addresses: [over.address], hostname: over.name, ...over };
}

describe("reading a host's identity", () => {
  test("own addresses from `ip -o addr show`: no loopback, no link-local", () => {
    assert.deepEqual(ownAddresses(IP_ADDR), ["10.0.0.31", "10.0.0.131", "fd00::31"]);
  });

  test("own addresses from `hostname -I`, when ip is missing", () => {
    assert.deepEqual(ownAddresses("10.0.0.31 172.17.0.1 fd00::31 \n"), [
      "10.0.0.31",
      "172.17.0.1",
      "fd00::31",
    ]);
    assert.deepEqual(ownAddresses(""), []);
  });

  test("the sections become an identity; an uninitialized or empty machine-id is no machine-id", () => {
    const h = { name: "worker-1", role: "worker", address: "w1.example.com" };
    const got = hostIdentity(h, "SHA256:abc", {
      hostname: "worker-1\n",
      machineId: "0123456789abcdef0123456789abcdef\n",
      addresses: IP_ADDR,
    });
    assert.deepEqual(got, {
      ...h,
      hostKey: "SHA256:abc",
      machineId: "0123456789abcdef0123456789abcdef",
      hostname: "worker-1",
      addresses: ["10.0.0.31", "10.0.0.131", "fd00::31"],
    });
    assert.equal(hostIdentity(h, undefined, { machineId: "uninitialized" }).machineId, undefined);
    assert.equal(hostIdentity(h, undefined, { machineId: "" }).machineId, undefined);
    assert.equal(hostIdentity(h, undefined, {}).hostKey, undefined);
  });

  test("Nodes: name, InternalIPs and the Hostname address", () => {
    const items = [
      {
        metadata: { name: "worker-1" },
        status: {
          addresses: [
            { type: "InternalIP", address: "10.0.0.31" },
            { type: "InternalIP", address: "fd00::31" },
            { type: "Hostname", address: "worker-1" },
          ],
        },
      },
      { metadata: { name: "bare" } },
    ];
    assert.deepEqual(nodeFacts(items), [
      { name: "worker-1", internalIPs: ["10.0.0.31", "fd00::31"], hostname: "worker-1" },
      { name: "bare", internalIPs: [] },
    ]);
  });
});

describe("two entries that are one machine", () => {
  const w1 = id({ name: "worker-1", address: "10.0.0.31", machineId: "m1", hostKey: "SHA256:k1" });

  test("the same machine-id and host key: refused, naming both entries and addresses", () => {
    const again = id({ name: "worker-9", address: "10.0.0.131", machineId: "m1", hostKey: "SHA256:k1" });
    const f = sameMachineFindings([w1, id({ name: "worker-2", address: "10.0.0.32" }), again]);
    assert.equal(f.length, 1);
    assert.equal(f[0]!.severity, "error");
    assert.equal(f[0]!.host, "worker-9");
    assert.equal(
      f[0]!.message,
      "worker-9 (10.0.0.131) and worker-1 (10.0.0.31) are one machine: the same /etc/machine-id m1 and the same SSH host key SHA256:k1",
    );
    assert.match(f[0]!.fix!, /remove worker-9 or worker-1/);
  });

  test("either one alone is enough: a second sshd, or a host without machine-id", () => {
    const sameId = id({ name: "w9", address: "10.0.0.131", machineId: "m1", hostKey: "SHA256:other" });
    assert.match(
      sameMachineFindings([w1, sameId])[0]!.message,
      /one machine: the same \/etc\/machine-id m1$/,
    );
    const sameKey = id({ name: "w9", address: "10.0.0.131", hostKey: "SHA256:k1" });
    assert.match(
      sameMachineFindings([w1, sameKey])[0]!.message,
      /one machine: the same SSH host key SHA256:k1$/,
    );
  });

  test("distinct machines, and hosts that have no machine-id, are not one machine", () => {
    const a = id({ name: "a", address: "10.0.0.1", hostKey: "SHA256:a" });
    const b = id({ name: "b", address: "10.0.0.2", hostKey: "SHA256:b" });
    assert.deepEqual(sameMachineFindings([w1, a, b]), []);
    assert.deepEqual(
      sameMachineFindings([id({ name: "c", address: "1" }), id({ name: "d", address: "2" })]),
      [],
    );
  });

  test("the load balancer on a master's machine: the fix says it needs its own host", () => {
    const m = id({ name: "master-2", role: "master", address: "10.0.0.12", machineId: "m2" });
    const lb = id({ name: "lb", role: "loadBalancer", address: "lb.example.com", machineId: "m2" });
    assert.match(sameMachineFindings([m, lb])[0]!.fix!, /the load balancer needs a host of its own/);
  });
});

describe("an entry's name and what the cluster calls its machine", () => {
  const nodes: NodeFact[] = [
    { name: "master-1", internalIPs: ["10.0.0.11"], hostname: "master-1" },
    { name: "worker-1", internalIPs: ["10.0.0.31"], hostname: "worker-1" },
    { name: "worker-2", internalIPs: ["10.0.0.32"], hostname: "worker-2" },
  ];

  test("a Node is its host by the address used, by one of the host's own, or (no InternalIP) by hostname", () => {
    const node = nodes[1]!;
    assert.equal(nodeIsHost(node, id({ name: "worker-1", address: "10.0.0.31", addresses: [] })), true);
    // Reached through a name or a NAT address: the host's own addresses decide.
    const byName = id({ name: "worker-1", address: "w1.example.com", addresses: ["10.0.0.31"] });
    assert.equal(nodeIsHost(node, byName), true);
    assert.equal(
      nodeIsHost(node, id({ name: "worker-1", address: "10.0.0.32", hostname: "worker-1" })),
      false,
    );
    const noIp = { name: "worker-1", internalIPs: [], hostname: "Worker-1" };
    assert.equal(nodeIsHost(noIp, id({ name: "worker-1", address: "10.0.0.31" })), true);
    // Addresses unknown and reached by name: the hostname is all there is to go by.
    const unknown = id({ name: "worker-1", address: "w1.example.com", addresses: [], hostname: "worker-1" });
    assert.equal(nodeIsHost(node, unknown), true);
  });

  test("the inventory's own names at their machines: nothing to say", () => {
    const ids = [
      id({ name: "master-1", role: "primary", address: "10.0.0.11" }),
      id({ name: "master-2", role: "master", address: "10.0.0.12" }),
      id({ name: "lb", role: "loadBalancer", address: "10.0.0.20", hostname: "haproxy-box" }),
      id({ name: "worker-1", address: "10.0.0.31" }),
    ];
    assert.deepEqual(nodeNameFindings(ids, nodes), []);
  });

  test("two workers swapped: the Node's InternalIP, the address, and which Node is there", () => {
    const f = nodeNameFindings(
      [
        id({ name: "worker-1", address: "10.0.0.32", hostname: "worker-2" }),
        id({ name: "worker-2", address: "10.0.0.31", hostname: "worker-1" }),
      ],
      nodes,
    );
    assert.deepEqual(
      f.map((x) => x.message),
      [
        `worker-1 (10.0.0.32): the cluster's Node "worker-1" has InternalIP 10.0.0.31 and hostname worker-1, not this host (addresses 10.0.0.32, hostname worker-2); the Node at this address is "worker-2"`,
        `worker-2 (10.0.0.31): the cluster's Node "worker-2" has InternalIP 10.0.0.32 and hostname worker-2, not this host (addresses 10.0.0.31, hostname worker-1); the Node at this address is "worker-1"`,
      ],
    );
    assert.ok(f.every((x) => x.severity === "error"));
  });

  test("a worker or primary with no Node of its name", () => {
    const f = nodeNameFindings(
      [
        id({ name: "worker-9", address: "10.0.0.131", addresses: ["10.0.0.31", "10.0.0.131"] }),
        id({ name: "cp", role: "primary", address: "10.0.0.11" }),
      ],
      nodes,
    );
    assert.deepEqual(
      f.map((x) => x.message),
      [
        `worker-9 (10.0.0.131): the cluster has no Node named "worker-9"; the Node at this address is "worker-1"`,
        `cp (10.0.0.11): the cluster has no Node named "cp"; the Node at this address is "master-1"`,
      ],
    );
  });

  test("a new master: its name must be its hostname, lower-cased as the kubelet does", () => {
    const swapped = id({ name: "master-2", role: "master", address: "10.0.0.13", hostname: "master-3" });
    const [f] = nodeNameFindings([swapped], nodes);
    assert.equal(
      f!.message,
      `master-2 (10.0.0.13): the host's hostname is "master-3": its kubelet would register the Node "master-3", but kubeha issues its certificates for "master-2"`,
    );
    assert.match(
      f!.fix!,
      /name the entry "master-3", or set the host's hostname \(hostnamectl set-hostname master-2\)/,
    );
    assert.match(f!.fix!, /--hostname-override/);
    const upper = id({ name: "master-2", role: "master", address: "10.0.0.12", hostname: "MASTER-2" });
    assert.deepEqual(nodeNameFindings([upper], nodes), []);
    const fqdn = id({
      name: "master-2",
      role: "master",
      address: "10.0.0.12",
      hostname: "master-2.example.com",
    });
    assert.match(nodeNameFindings([fqdn], nodes)[0]!.fix!, /name the entry "master-2\.example\.com"/);
  });

  test("a new master the cluster already has as its Node (a resumed run) is judged by that Node", () => {
    const joined = [...nodes, { name: "cp-2", internalIPs: ["10.0.0.12"], hostname: "cp-2" }];
    const here = id({ name: "cp-2", role: "master", address: "10.0.0.12", hostname: "box-12" });
    assert.deepEqual(nodeNameFindings([here], joined), []);
    const elsewhere = id({ name: "cp-2", role: "master", address: "10.0.0.13", hostname: "cp-2" });
    assert.match(
      nodeNameFindings([elsewhere], joined)[0]!.message,
      /Node "cp-2" has InternalIP 10\.0\.0\.12/,
    );
  });
});
