import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { parseInventory } from "../../src/inventory/index.js";
import {
  defaultIdentityFile,
  pathForInventory,
  probeHostOf,
  sshOverride,
  sudoFor,
  suggestName,
  type SshAnswers,
  type WizardAnswers,
} from "../../src/wizard/answers.js";
import { renderInventory } from "../../src/wizard/render.js";
import {
  addressAnswer,
  clientAddressAnswer,
  dnsNameAnswer,
  identityFileAnswer,
  knownHostsAnswer,
  nodeNameAnswer,
  outputPathAnswer,
  probeFault,
  userAnswer,
} from "../../src/wizard/validate.js";

const base = { cwd: "/ops", home: "/home/op" };

const shared: SshAnswers = {
  user: "admin",
  port: 2222,
  identityFile: "~/.ssh/id_ed25519",
  sudo: true,
  knownHostsFile: "~/.ssh/known_hosts",
  acceptNewHostKeys: false,
};

const answers: WizardAnswers = {
  ssh: shared,
  primary: { name: "master-1", address: "10.0.0.11" },
  masters: [
    { name: "master-2", address: "10.0.0.12", ssh: { user: "root", sudo: false } },
    { name: "master-3", address: "10.0.0.13" },
  ],
  loadBalancer: {
    name: "lb",
    address: "10.0.0.20",
    clientAddress: "10.0.0.21",
    dnsName: "api.example.com",
    port: 8443,
    ssh: { acceptNewHostKeys: true },
  },
  workers: [{ name: "worker-1", address: "worker-1.example.com" }],
};

describe("wizard answers are checked as they are given", () => {
  it("addresses: IP or host name, each host its own", () => {
    assert.equal(addressAnswer("10.0.0.12"), true);
    assert.equal(addressAnswer("fd00::12"), true);
    assert.equal(addressAnswer("master-2.example.com"), true);
    assert.match(String(addressAnswer("10.0.0.300")), /neither an IP address nor a host name/);
    assert.match(String(addressAnswer("")), /needed/);
    const taken = new Map([["10.0.0.11", "master-1 (the primary)"]]);
    assert.equal(
      addressAnswer(" 10.0.0.11 ", taken),
      "10.0.0.11 is already the address of master-1 (the primary); every host needs its own",
    );
  });

  it("node names: DNS-1123, not a duplicate", () => {
    assert.equal(nodeNameAnswer("master-2"), true);
    assert.equal(nodeNameAnswer("cp-2.dc1"), true);
    assert.match(String(nodeNameAnswer("Master_2")), /not a valid node name/);
    assert.match(String(nodeNameAnswer("-x")), /not a valid node name/);
    assert.match(String(nodeNameAnswer("a".repeat(254))), /longer than 253/);
    assert.equal(
      nodeNameAnswer("master-1", new Map([["master-1", "master-1 (the primary)"]])),
      "master-1 is already the name of master-1 (the primary)",
    );
    assert.equal(nodeNameAnswer("master-1", new Map(), ["master-1"]), true);
    assert.match(String(nodeNameAnswer("kubeha", new Map(), ["master-1"])), /no etcd member is named kubeha/);
  });

  it("users, DNS names, client address, output path", () => {
    assert.equal(userAnswer("kubeha"), true);
    assert.match(String(userAnswer("a b")), /not a valid user name/);
    assert.equal(dnsNameAnswer(""), true);
    assert.equal(dnsNameAnswer("api.example.com"), true);
    assert.match(String(dnsNameAnswer("10.0.0.20")), /is an IP address/);
    assert.match(String(dnsNameAnswer("api_x")), /not a DNS name/);
    const masters = new Map([["10.0.0.12", "master-2 (a new master)"]]);
    assert.equal(clientAddressAnswer("10.0.0.21", masters), true);
    assert.match(String(clientAddressAnswer("10.0.0.12", masters)), /clients must reach the load balancer/);
    assert.equal(outputPathAnswer("./inv.yaml"), true);
    assert.match(String(outputPathAnswer("out/")), /is a directory/);
  });

  it("key and known_hosts files: a missing known_hosts is allowed (accept-new creates it)", () => {
    assert.equal(identityFileAnswer("~/.ssh/k", "/home/op/.ssh/k", "ok"), true);
    assert.equal(
      identityFileAnswer("~/.ssh/k", "/home/op/.ssh/k", "missing"),
      "/home/op/.ssh/k does not exist",
    );
    assert.equal(knownHostsAnswer("kh", "/ops/kh", "missing"), true);
    assert.equal(knownHostsAnswer("kh", "/ops/kh", "not-a-file"), "/ops/kh is not a regular file");
  });

  it("a failed probe asks again for what it calls into question", () => {
    const label = "host master-2 (10.1.2.250:22)";
    assert.equal(probeFault(`${label}: host unreachable (EHOSTUNREACH)`), "address");
    assert.equal(probeFault(`${label}: connection refused on port 22 (is sshd running?)`), "address");
    assert.equal(probeFault(`${label}: connection timed out after 5s (connectTimeoutSeconds)`), "address");
    assert.equal(probeFault(`${label}: DNS lookup of nope failed (ENOTFOUND)`), "address");
    assert.equal(probeFault(`${label}: authentication failed for user root with key /k`), "credentials");
    assert.equal(probeFault(`${label}: cannot read identity file /k (ENOENT)`), "credentials");
    assert.equal(
      probeFault(`${label}: sudo requires a password for user kubeha; kubeha needs passwordless sudo`),
      "credentials",
    );
    assert.equal(
      probeFault(`${label}: host key unknown: server offered SHA256:x (ssh-ed25519), which is not in /kh`),
      "hostKey",
    );
    assert.equal(probeFault(`${label}: host key mismatch: known_hosts has SHA256:a`), "hostKey");
    assert.equal(
      probeFault(
        `host lb (10.0.0.20): user ops without sudo does not get root (id -u printed 1000); kubeha needs root`,
      ),
      "credentials",
    );
    assert.equal(probeFault("primary: /etc/kubernetes/manifests/etcd.yaml not found"), "host");
  });
});

describe("wizard defaults", () => {
  it("names follow the primary's", () => {
    assert.equal(suggestName("master-1", 1), "master-2");
    assert.equal(suggestName("cp1", 2), "cp3");
    assert.equal(suggestName("k8s-control", 1), "master-2");
  });

  it("the key: id_ed25519 unless only id_rsa exists", () => {
    assert.equal(
      defaultIdentityFile("/h", () => false),
      "~/.ssh/id_ed25519",
    );
    assert.equal(
      defaultIdentityFile("/h", (p) => p === "/h/.ssh/id_rsa"),
      "~/.ssh/id_rsa",
    );
    assert.equal(
      defaultIdentityFile("/h", () => true),
      "~/.ssh/id_ed25519",
    );
  });

  it("paths: ~ kept, relative made absolute (the inventory reads them from its own directory)", () => {
    assert.equal(pathForInventory("~/.ssh/id_rsa", base), "~/.ssh/id_rsa");
    assert.equal(pathForInventory("keys/id", base), "/ops/keys/id");
    assert.equal(pathForInventory("/k/id", base), "/k/id");
  });

  it("sudo follows the user; a host's ssh holds only what differs", () => {
    assert.equal(sudoFor("admin", shared), true);
    assert.equal(sudoFor("root", shared), false);
    assert.equal(sudoFor("other", { ...shared, user: "root", sudo: false }), true);
    assert.equal(sshOverride(shared, shared), undefined);
    assert.deepEqual(sshOverride(shared, { ...shared, user: "root", sudo: false }), {
      user: "root",
      sudo: false,
    });
  });

  it("a probe uses the host's effective settings, paths resolved, with the short timeout", () => {
    const h = probeHostOf(answers.masters[0]!, "master", shared, base, 5);
    assert.deepEqual(h, {
      name: "master-2",
      address: "10.0.0.12",
      role: "master",
      ssh: {
        user: "root",
        port: 2222,
        identityFile: "/home/op/.ssh/id_ed25519",
        agent: false,
        sudo: false,
        knownHostsFile: "/home/op/.ssh/known_hosts",
        acceptNewHostKeys: false,
        connectTimeoutSeconds: 5,
        stallTimeoutSeconds: 30,
      },
    });
  });
});

describe("the inventory the wizard writes", () => {
  const text = renderInventory(answers, {
    kubernetesVersion: "1.31.2",
    serviceCidr: "10.96.0.0/12",
    etcdMembers: ["master-1"],
    writtenAt: "2025-01-31T12:00:00Z",
  });

  it("validates with parseInventory and says what was answered", () => {
    const r = parseInventory(text, "/ops/kubeha-inventory.yaml", {
      fileState: () => "ok",
      homeDir: "/home/op",
    });
    assert.ok("inventory" in r, JSON.stringify("errors" in r && r.errors));
    const inv = r.inventory;
    assert.equal(inv.primary.name, "master-1");
    assert.deepEqual(inv.primary.ssh, {
      user: "admin",
      port: 2222,
      identityFile: "/home/op/.ssh/id_ed25519",
      agent: false,
      sudo: true,
      knownHostsFile: "/home/op/.ssh/known_hosts",
      acceptNewHostKeys: false,
      connectTimeoutSeconds: 10,
      stallTimeoutSeconds: 30,
    });
    assert.deepEqual(
      inv.masters.map((m) => [m.name, m.address, m.ssh.user, m.ssh.sudo]),
      [
        ["master-2", "10.0.0.12", "root", false],
        ["master-3", "10.0.0.13", "admin", true],
      ],
    );
    assert.equal(inv.loadBalancer.hosts[0]?.address, "10.0.0.20");
    assert.equal(inv.loadBalancer.address, "10.0.0.21");
    assert.equal(inv.loadBalancer.dnsName, "api.example.com");
    assert.equal(inv.loadBalancer.port, 8443);
    assert.equal(inv.loadBalancer.hosts[0]?.ssh.acceptNewHostKeys, true);
    assert.deepEqual(
      inv.workers.map((w) => w.address),
      ["worker-1.example.com"],
    );
    assert.equal(inv.options.stateDir, "/ops/kubeha-state");
  });

  it("is commented, names the key by path only, and records what was found", () => {
    assert.match(text, /^# kubeha inventory, written by `kubeha wizard` on 2025-01-31T12:00:00Z\./);
    assert.match(
      text,
      /# Found there: Kubernetes 1\.31\.2; service CIDR 10\.96\.0\.0\/12; etcd members: master-1\./,
    );
    assert.match(text, /identityFile: ~\/\.ssh\/id_ed25519 # path of the private key/);
    assert.doesNotMatch(text, /PRIVATE KEY|BEGIN /);
    // Comments are comments: the data is exactly the answers.
    const data = parse(text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(data), ["ssh", "primary", "masters", "loadBalancer", "workers", "options"]);
  });

  it("without workers or a DNS name: `workers: []`, no dnsName", () => {
    const t = renderInventory({
      ...answers,
      workers: [],
      loadBalancer: { name: "lb", address: "10.0.0.20", clientAddress: "10.0.0.20", port: 6443 },
    });
    const data = parse(t) as { workers: unknown[]; loadBalancer: Record<string, unknown> };
    assert.deepEqual(data.workers, []);
    assert.equal("dnsName" in data.loadBalancer, false);
    assert.doesNotMatch(t, /Found there/);
  });

  it("quotes what YAML would misread", () => {
    const t = renderInventory({
      ...answers,
      ssh: { ...shared, identityFile: "/keys/my key #1" },
    });
    const data = parse(t) as { ssh: { identityFile: string } };
    assert.equal(data.ssh.identityFile, "/keys/my key #1");
  });
});
