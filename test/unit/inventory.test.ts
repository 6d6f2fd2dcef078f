import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { InputError } from "../../src/errors.js";
import {
  loadInventory,
  parseInventory,
  type FileState,
  type KeyState,
  type Problem,
} from "../../src/inventory/index.js";

const home = "/home/op";
/** Every file exists except those listed. */
const files =
  (states: Record<string, FileState> = {}) =>
  (path: string): FileState =>
    states[path] ?? "ok";

const minimal = `
ssh:
  identityFile: ~/.ssh/id_ed25519
primary: { name: master-1, address: 10.0.0.11 }
masters:
  - { name: master-2, address: 10.0.0.12 }
  - { name: master-3, address: 10.0.0.13 }
loadBalancer: { name: lb, address: 10.0.0.20 }
`;

function parse(text: string, states?: Record<string, FileState>) {
  return parseInventory(text, "/ops/cluster/inventory.yaml", { fileState: files(states), homeDir: home });
}
function errorsOf(text: string, states?: Record<string, FileState>): Problem[] {
  const r = parse(text, states);
  assert.ok("errors" in r, "expected errors, got a valid inventory");
  return r.errors;
}
function ok(text: string, states?: Record<string, FileState>) {
  const r = parse(text, states);
  assert.ok("inventory" in r, `expected a valid inventory, got ${JSON.stringify("errors" in r && r.errors)}`);
  return r;
}
/** The one problem at `path`; fails when there is none. */
function at(errors: Problem[], path: string): Problem {
  const p = errors.find((e) => e.path === path);
  assert.ok(p, `no problem at ${path}; got ${JSON.stringify(errors)}`);
  return p;
}

describe("inventory defaults and merging", () => {
  it("fills every default and resolves paths", () => {
    const { inventory: inv } = ok(minimal);
    assert.equal(inv.path, "/ops/cluster/inventory.yaml");
    assert.deepEqual(inv.primary.ssh, {
      user: "root",
      port: 22,
      identityFile: "/home/op/.ssh/id_ed25519",
      agent: false,
      sudo: false,
      knownHostsFile: "/home/op/.ssh/known_hosts",
      acceptNewHostKeys: false,
      connectTimeoutSeconds: 10,
      stallTimeoutSeconds: 30,
    });
    assert.equal(inv.primary.role, "primary");
    assert.deepEqual(
      inv.masters.map((m) => [m.name, m.role]),
      [
        ["master-2", "master"],
        ["master-3", "master"],
      ],
    );
    assert.deepEqual(
      {
        address: inv.loadBalancer.address,
        port: inv.loadBalancer.port,
        role: inv.loadBalancer.hosts[0]?.role,
      },
      { address: "10.0.0.20", port: 6443, role: "loadBalancer" },
    );
    assert.deepEqual(inv.workers, []);
    assert.deepEqual(inv.options, {
      extraSans: [],
      workerConcurrency: 3,
      etcdLearnerTimeoutSeconds: 120,
      stateDir: "/ops/cluster/kubeha-state",
    });
  });

  it("lets a host override the shared SSH settings field by field", () => {
    const { inventory: inv } = ok(`
ssh: { identityFile: keys/id, port: 2222, knownHostsFile: ./kh, jumpHost: { address: bastion.example.com } }
primary: { name: master-1, address: 10.0.0.11, ssh: { user: admin, sudo: true, port: 22 } }
masters:
  - { name: master-2, address: "fd00::12", ssh: { identityFile: /abs/key, jumpHost: { address: 10.9.9.9, port: 2200, user: j } } }
  - { name: master-3, address: master-3.example.com }
loadBalancer: { name: lb, address: 10.0.0.20, clientAddress: 192.0.2.1, dnsName: api.example.com, port: 8443 }
workers: [{ name: worker-1, address: 10.0.0.31 }]
options: { extraSans: ["*.api.example.com", 192.0.2.2], workerConcurrency: 5, stateDir: ~/state }
`);
    assert.equal(inv.primary.ssh.user, "admin");
    assert.equal(inv.primary.ssh.sudo, true);
    assert.equal(inv.primary.ssh.port, 22);
    assert.equal(inv.primary.ssh.identityFile, "/ops/cluster/keys/id");
    assert.equal(inv.primary.ssh.knownHostsFile, "/ops/cluster/kh");
    assert.deepEqual(inv.primary.ssh.jumpHost, {
      address: "bastion.example.com",
      port: 22,
      user: "admin",
      identityFile: "/ops/cluster/keys/id",
    });
    assert.equal(inv.masters[0]!.ssh.port, 2222);
    assert.deepEqual(inv.masters[0]!.ssh.jumpHost, {
      address: "10.9.9.9",
      port: 2200,
      user: "j",
      identityFile: "/abs/key",
    });
    assert.equal(inv.loadBalancer.address, "192.0.2.1");
    assert.equal(inv.loadBalancer.hosts[0]?.address, "10.0.0.20");
    assert.equal(inv.loadBalancer.dnsName, "api.example.com");
    assert.equal(inv.loadBalancer.port, 8443);
    assert.equal(inv.workers[0]!.role, "worker");
    assert.deepEqual(inv.options, {
      extraSans: ["*.api.example.com", "192.0.2.2"],
      workerConcurrency: 5,
      etcdLearnerTimeoutSeconds: 120,
      stateDir: "/home/op/state",
    });
  });

  it("accepts 4 and 6 new masters", () => {
    for (const n of [4, 6]) {
      const masters = Array.from({ length: n }, (_, i) => `  - { name: m${i}, address: 10.0.1.${i} }`).join(
        "\n",
      );
      ok(minimal.replace(/masters:\n( {2}- .*\n)+/, `masters:\n${masters}\n`));
    }
  });

  it("warns about settings that are allowed but probably not meant", () => {
    const r = ok(minimal.replace("ssh:\n", "ssh:\n  acceptNewHostKeys: true\n"));
    assert.equal(r.warnings[0]?.path, "ssh.acceptNewHostKeys");
    assert.equal(r.warnings[0]?.line, 3);
  });
});

describe("inventory errors", () => {
  it("reports an unknown field with the closest known one, at its line", () => {
    const e = at(errorsOf(minimal.replace("address: 10.0.0.12", "adress: 10.0.0.12")), "masters[0].adress");
    assert.match(e.message, /unknown field; did you mean "address"\?/);
    assert.equal(e.line, 6);
  });

  it("reports unknown fields at every level, and lists known fields when nothing is close", () => {
    const errors = errorsOf(`${minimal}colour: blue\noptions: { workerConcurency: 2 }\n`);
    assert.match(at(errors, "colour").message, /known fields: ssh, primary, masters/);
    assert.match(at(errors, "options.workerConcurency").message, /did you mean "workerConcurrency"/);
  });

  it("reports missing required fields", () => {
    const errors = errorsOf("masters: []\n");
    assert.equal(at(errors, "primary").message, "is required");
    assert.equal(at(errors, "loadBalancer").message, "is required");
    const hostErrors = errorsOf(
      minimal.replace("{ name: master-2, address: 10.0.0.12 }", "{ name: master-2 }"),
    );
    assert.equal(at(hostErrors, "masters[0].address").message, "is required");
    assert.equal(at(hostErrors, "masters[0].address").line, 6);
  });

  it("reports wrong types and empty values", () => {
    const errors = errorsOf(
      minimal.replace("ssh:\n", 'ssh:\n  port: "22"\n  sudo: yes\n  user:\n') + "workers: { name: w }\n",
    );
    assert.match(at(errors, "ssh.port").message, /must be an integer, not the string "22"/);
    assert.match(at(errors, "ssh.sudo").message, /must be true or false/);
    assert.equal(at(errors, "ssh.user").message, "is empty");
    assert.match(at(errors, "workers").message, /must be a list/);
  });

  it("reports an invalid node name, address, port and fingerprint", () => {
    const errors = errorsOf(
      minimal
        .replace("name: master-2", "name: Master_2")
        .replace("address: 10.0.0.13", "address: 10.0.0.300")
        .replace(
          "address: 10.0.0.20 }",
          "address: 10.0.0.20, port: 70000, ssh: { hostKeyFingerprint: MD5:aa } }",
        ),
    );
    assert.match(at(errors, "masters[0].name").message, /"Master_2" is not a valid node name/);
    assert.match(
      at(errors, "masters[1].address").message,
      /"10.0.0.300" is neither an IP address nor a host name/,
    );
    assert.match(at(errors, "loadBalancer.port").message, /must be 1–65535, not 70000/);
    assert.match(at(errors, "loadBalancer.ssh.hostKeyFingerprint").message, /not a SHA256 fingerprint/);
  });

  it("refuses a number of new masters that would not give an odd total up to 7", () => {
    for (const n of [0, 1, 3, 8]) {
      const list = Array.from({ length: n }, (_, i) => `  - { name: m${i}, address: 10.0.1.${i} }`).join(
        "\n",
      );
      const text = minimal.replace(/masters:\n( {2}- .*\n)+/, n ? `masters:\n${list}\n` : "masters: []\n");
      const e = at(errorsOf(text), "masters");
      assert.match(e.message, /list 2, 4 or 6 new masters/);
      assert.equal(e.line, 5);
    }
  });

  it("refuses duplicate names and addresses across all hosts", () => {
    const errors = errorsOf(
      `${minimal}workers:\n  - { name: master-2, address: 10.0.0.40 }\n  - { name: worker-2, address: 10.0.0.11 }\n`,
    );
    assert.match(at(errors, "workers[0].name").message, /"master-2" is already the name of masters\[0\]/);
    assert.match(at(errors, "workers[1].address").message, /"10.0.0.11" is already the address of primary/);
    assert.equal(at(errors, "workers[1].address").line, 11);
  });

  it("refuses a load balancer on a master's address, for SSH or for clients", () => {
    const onMaster = errorsOf(minimal.replace("address: 10.0.0.20", "address: 10.0.0.12"));
    assert.match(
      at(onMaster, "loadBalancer.address").message,
      /already the address of masters\[0\].*its own host: the master's apiserver already listens on 6443/,
    );
    // Another port does not clash with the apiserver: the LB on a master is that master, by name too.
    const otherPort = at(
      errorsOf(minimal.replace("address: 10.0.0.20", "address: 10.0.0.12, port: 8443")),
      "loadBalancer.address",
    ).message;
    assert.match(
      otherPort,
      /a load balancer on a master \(here on port 8443\) is written with that master's name and address/,
    );
    assert.doesNotMatch(otherPort, /already listens/);
    const clients = errorsOf(
      minimal.replace("address: 10.0.0.20", "address: 10.0.0.20, clientAddress: 10.0.0.11"),
    );
    assert.match(
      at(clients, "loadBalancer.clientAddress").message,
      /10.0.0.11 is the address of primary \(master-1\)/,
    );
  });

  it("names a missing or unreadable identity file, and a missing known_hosts file", () => {
    const errors = errorsOf(
      minimal.replace(
        "primary: { name: master-1, address: 10.0.0.11 }",
        "primary: { name: master-1, address: 10.0.0.11, ssh: { identityFile: /k/primary } }",
      ),
      {
        "/home/op/.ssh/id_ed25519": "missing",
        "/k/primary": "unreadable",
        "/home/op/.ssh/known_hosts": "missing",
      },
    );
    const shared = at(errors, "ssh.identityFile");
    assert.equal(shared.message, "identity file /home/op/.ssh/id_ed25519 does not exist");
    assert.equal(shared.line, 3);
    assert.equal(at(errors, "primary.ssh.identityFile").message, "identity file /k/primary is not readable");
    assert.match(
      at(errors, "ssh.knownHostsFile").message,
      /known_hosts file \/home\/op\/.ssh\/known_hosts does not exist/,
    );
    // One problem per place it was written, not one per host.
    assert.equal(errors.filter((e) => e.path === "ssh.identityFile").length, 1);
  });

  it("names an identity file that is not a private key, or is encrypted without the agent", () => {
    const keys: Record<string, KeyState> = { "/home/op/.ssh/id_ed25519": "encrypted", "/k/pub": "not-a-key" };
    const text = minimal.replace(
      "primary: { name: master-1, address: 10.0.0.11 }",
      "primary: { name: master-1, address: 10.0.0.11, ssh: { identityFile: /k/pub } }",
    );
    const r = parseInventory(text, "/ops/cluster/inventory.yaml", {
      fileState: files(),
      keyState: (path) => keys[path] ?? "ok",
      homeDir: home,
    });
    assert.ok("errors" in r);
    assert.match(
      at(r.errors, "ssh.identityFile").message,
      /^identity file \/home\/op\/.ssh\/id_ed25519 is encrypted; kubeha does not ask for passphrases: add it to ssh-agent/,
    );
    assert.match(
      at(r.errors, "primary.ssh.identityFile").message,
      /^identity file \/k\/pub is not a private key/,
    );
    // Through the agent, an encrypted key is fine: the agent holds it decrypted.
    const agent = parseInventory(minimal.replace("ssh:\n", "ssh:\n  agent: true\n"), "/ops/i.yaml", {
      fileState: files(),
      keyState: (path) => keys[path] ?? "ok",
      homeDir: home,
    });
    assert.ok("inventory" in agent, JSON.stringify(agent));
  });

  it("takes ssh.stallTimeoutSeconds per host, 30 by default, within bounds", () => {
    const { inventory: inv } = ok(
      minimal.replace(
        "{ name: master-3, address: 10.0.0.13 }",
        "{ name: master-3, address: 10.0.0.13, ssh: { stallTimeoutSeconds: 5 } }",
      ),
    );
    assert.deepEqual(
      [inv.primary, ...inv.masters].map((h) => h.ssh.stallTimeoutSeconds),
      [30, 30, 5],
    );
    assert.equal(
      at(errorsOf(minimal.replace("ssh:\n", "ssh:\n  stallTimeoutSeconds: 1\n")), "ssh.stallTimeoutSeconds")
        .message,
      "must be 2–3600, not 1",
    );
  });

  it("needs no known_hosts file with acceptNewHostKeys or a pinned fingerprint", () => {
    const missing = { "/home/op/.ssh/known_hosts": "missing" } as const;
    ok(minimal.replace("ssh:\n", "ssh:\n  acceptNewHostKeys: true\n"), missing);
    const pinned = "ssh: { hostKeyFingerprint: SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU }";
    const everyHostPinned = minimal.replace(/address: (10\.0\.0\.\d+) }/g, `address: $1, ${pinned} }`);
    ok(everyHostPinned, missing);
  });

  it("refuses a non-root user without sudo, and a host with no credentials", () => {
    const errors = errorsOf(
      minimal
        .replace("ssh:\n  identityFile: ~/.ssh/id_ed25519\n", "ssh:\n  user: admin\n")
        .replace(
          "{ name: master-3, address: 10.0.0.13 }",
          "{ name: master-3, address: 10.0.0.13, ssh: { identityFile: /k, sudo: true } }",
        ),
    );
    const sudo = at(errors, "ssh.user");
    assert.match(sudo.message, /user admin is not root and sudo is false; kubeha needs root/);
    assert.match(at(errors, "primary.ssh").message, /no way to authenticate to master-1/);
    assert.ok(!errors.some((e) => e.path.startsWith("masters[1]")), "master-3 has a key and sudo");
  });

  it("reports several problems at once, each with its own line", () => {
    const errors = errorsOf(`ssh:
  port: 0
primary: { name: master-1, address: 10.0.0.11 }
masters:
  - { name: master-2, adress: 10.0.0.12 }
  - { name: master-3, address: "not an address" }
loadBalancer: { name: lb, address: 10.0.0.20, port: -1 }
`);
    assert.deepEqual(
      errors.map((e) => [e.line, e.path]),
      [
        [2, "ssh.port"],
        [5, "masters[0].adress"],
        [5, "masters[0].address"],
        [6, "masters[1].address"],
        [7, "loadBalancer.port"],
      ],
    );
  });

  it("reports YAML syntax errors with their line", () => {
    const errors = errorsOf("primary:\n  name: a\n   address: b\n");
    assert.equal(errors[0]?.line, 2);
    assert.match(errors[0]!.message, /^YAML: /);
  });
});

describe("loadInventory", () => {
  it("reads the file and resolves paths against its directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kubeha-inv-"));
    try {
      execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]);
      await writeFile(join(dir, "kh"), "");
      const file = join(dir, "inv.yaml");
      await writeFile(file, minimal.replace("~/.ssh/id_ed25519", "id\n  knownHostsFile: kh"));
      const inv = await loadInventory(file);
      assert.equal(inv.primary.ssh.identityFile, join(dir, "id"));
      assert.equal(inv.options.stateDir, join(dir, "kubeha-state"));
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it("throws one InputError listing every problem as file:line: field: message", async () => {
    const dir = await mkdtemp(join(tmpdir(), "kubeha-inv-"));
    try {
      const file = join(dir, "inv.yaml");
      await writeFile(
        file,
        minimal.replace("~/.ssh/id_ed25519", "missing-key").replace("name: lb", "name: lb, prot: 1"),
      );
      await chmod(file, 0o600);
      await assert.rejects(loadInventory(file), (err: unknown) => {
        assert.ok(err instanceof InputError);
        assert.equal(err.exitCode, 2);
        const lines = err.message.split("\n");
        assert.match(lines[0]!, /inv.yaml has 1 problem:$/);
        assert.ok(
          lines.includes(`${file}:8: loadBalancer.prot: unknown field; did you mean "port"?`),
          err.message,
        );
        return true;
      });
      // Schema problems come first: the missing key is reported once the file's shape is right.
      await writeFile(file, minimal.replace("~/.ssh/id_ed25519", "missing-key"));
      await assert.rejects(
        loadInventory(file),
        new RegExp(`${file}:3: ssh.identityFile: identity file ${dir}/missing-key does not exist`),
      );
      await assert.rejects(loadInventory(join(dir, "nope.yaml")), /nope.yaml: cannot read it \(ENOENT\)/);
      // A file that is there but holds no private key (here: a public key) is refused too, naming the field.
      await writeFile(
        join(dir, "id.pub"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPalE+8msGn4YHeH2IkoZh4gptgd5LnWmgURULIMTntC\n",
      );
      await writeFile(file, minimal.replace("~/.ssh/id_ed25519", "id.pub"));
      await assert.rejects(
        loadInventory(file),
        new RegExp(`${file}:3: ssh.identityFile: identity file ${dir}/id.pub is not a private key`),
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });

  it("accepts the commented example", async () => {
    const r = parseInventory(
      await (
        await import("node:fs/promises")
      ).readFile(new URL("../../../inventory/example.yaml", import.meta.url), "utf8"),
      "inventory/example.yaml",
      { fileState: files(), homeDir: home },
    );
    assert.ok("inventory" in r, JSON.stringify(r));
    assert.equal(r.inventory.primary.ssh.sudo, true);
  });
});
