// `kubeha discover` against the lab: the facts it reports are the ones the fixture was built with
// (two fixtures with different versions, CIDRs and domains), and bad input gives one clear error.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { hostEntry, inventoryVariant, kubeha } from "./kubeha.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

interface DiscoverJson {
  cluster: {
    kubernetesVersion: string;
    serviceCidr: string;
    podCidr: string;
    clusterDomain: string;
    advertiseAddress: string;
    etcd: { members: { name: string; isLearner: boolean }[]; healthy: boolean };
    certificates: { path: string; ipAddresses: string[]; dnsNames: string[] }[];
    caKeys: { ca: boolean };
    controlPlaneNodes: string[];
  };
  hosts: { name: string; kubeletVersion?: string; nginx?: { stream: string } }[];
  findings: { severity: string; host: string; message: string }[];
}

function checkFacts(
  lab: Lab,
  out: string,
  expect: { version: string; serviceIp: string; serviceCidr: string; podCidr: string; domain: string },
) {
  const d = JSON.parse(out) as DiscoverJson;
  const c = d.cluster;
  assert.equal(c.kubernetesVersion, expect.version);
  assert.equal(c.serviceCidr, expect.serviceCidr);
  assert.equal(c.podCidr, expect.podCidr);
  assert.equal(c.clusterDomain, expect.domain);
  assert.equal(c.advertiseAddress, lab.primary.address);
  assert.deepEqual(
    c.etcd.members.map((m) => m.name),
    ["master-1"],
  );
  assert.equal(c.etcd.healthy, true);
  assert.deepEqual(c.controlPlaneNodes, ["master-1"]);
  assert.equal(c.caKeys.ca, true);
  const apiserver = c.certificates.find((x) => x.path === "apiserver.crt");
  assert.ok(apiserver?.ipAddresses.includes(expect.serviceIp), `apiserver SANs ${apiserver?.ipAddresses}`);
  assert.ok(apiserver?.dnsNames.includes(`kubernetes.default.svc.${expect.domain}`));
  for (const m of ["master-2", "master-3"]) {
    assert.equal(d.hosts.find((h) => h.name === m)?.kubeletVersion, expect.version);
  }
  assert.equal(d.hosts.find((h) => h.name === "lb")?.nginx?.stream, "loaded");
  assert.deepEqual(
    d.findings.filter((f) => f.severity === "error"),
    [],
  );
}

describe("kubeha discover: Kubernetes 1.31, default networking", { skip }, () => {
  let lab: Lab;
  before(async () => {
    lab = await startLab();
  });
  after(async () => {
    await lab?.stop();
  });

  test("reports the fixture's facts in under 3 seconds, as JSON on stdout only", async () => {
    const r = await kubeha(lab, ["discover", "-i", lab.inventoryFile, "--output", "json"]);
    assert.equal(r.code, 0, r.stderr);
    checkFacts(lab, r.stdout, {
      version: "1.31.2",
      serviceIp: "10.96.0.1",
      serviceCidr: "10.96.0.0/12",
      podCidr: "10.244.0.0/16",
      domain: "cluster.local",
    });
    assert.ok(r.ms < 3000, `discover took ${r.ms} ms`);
  });

  test("a changed host key is refused, with both fingerprints", async () => {
    const text = await readFile(lab.knownHostsFile, "utf8");
    const other = await readFile(
      join(lab.dir, "h", "master-3", "ssh", "ssh_host_ed25519_key.pub"),
      "utf8",
    ).catch(() => undefined);
    assert.ok(other, "master-3's host key");
    const key = other.trim().split(/\s+/).slice(0, 2).join(" ");
    // master-2's entry now holds master-3's key: what a man in the middle would look like.
    const forged = `${lab.host("master-2").address} ${key}\n`;
    const known = join(lab.dir, "known_hosts-forged");
    await writeFile(
      known,
      text
        .split("\n")
        .filter((l) => l && !l.startsWith(lab.host("master-2").address) && !l.startsWith("|"))
        .join("\n") +
        "\n" +
        forged,
    );
    const inv = await inventoryVariant(lab, "forged", (i) => {
      i.ssh.knownHostsFile = known;
    });
    const r = await kubeha(lab, ["discover", "-i", inv]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /master-2 .*host key mismatch.*SHA256:\S+.*SHA256:\S+/);
  });

  test("a wrong user is an authentication failure naming the host and user", async () => {
    const inv = await inventoryVariant(lab, "wrong-user", (i) => {
      hostEntry(i, "master-2").ssh = { user: "nosuchuser", sudo: true };
    });
    const r = await kubeha(lab, ["discover", "-i", inv]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /master-2.*authentication failed.*nosuchuser/i);
  });

  test("an unreachable host is named and the run stops quickly", async () => {
    const dead = lab.primary.address.replace(/\.\d+$/, ".250");
    const inv = await inventoryVariant(lab, "unreachable", (i) => {
      hostEntry(i, "master-3").address = dead;
      i.ssh.connectTimeoutSeconds = 2;
      i.ssh.acceptNewHostKeys = true;
    });
    const r = await kubeha(lab, ["discover", "-i", inv]);
    assert.notEqual(r.code, 0);
    assert.match(
      r.stderr,
      new RegExp(`master-3 \\(${dead.replace(/\./g, "\\.")}:22\\).*(timed out|unreachable|refused)`),
    );
    assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
  });

  test("a primary without pki/ca.key (external CA) is refused, naming the file", async () => {
    const caKey = join(lab.dir, "h", "master-1", "etc-kubernetes", "pki", "ca.key");
    await rename(caKey, `${caKey}.away`);
    try {
      const r = await kubeha(lab, ["discover", "-i", lab.inventoryFile]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(
        r.stdout,
        /master-1: \/etc\/kubernetes\/pki\/ca\.key missing: the cluster uses an external CA/,
      );
    } finally {
      await rename(`${caKey}.away`, caKey);
    }
  });
});

describe(
  "kubeha discover: Kubernetes 1.24, custom networking, a sudo that wants a password",
  { skip },
  () => {
    let lab: Lab;
    before(async () => {
      lab = await startLab({
        version: "1.24.17",
        serviceCidr: "172.24.0.0/16",
        podCidr: "10.32.0.0/16",
        domain: "corp.example",
        sudoAsksPassword: "master-3",
        workers: 1,
      });
    });
    after(async () => {
      await lab?.stop();
    });

    test("a sudo that asks for a password is one clear error", async () => {
      const r = await kubeha(lab, ["discover", "-i", lab.inventoryFile]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /master-3.*sudo requires a password for user kubeha/);
    });

    test("reports the fixture's facts (root login for master-3 instead)", async () => {
      const inv = await inventoryVariant(lab, "root-m3", (i) => {
        hostEntry(i, "master-3").ssh = { user: "root", sudo: false };
      });
      const r = await kubeha(lab, ["discover", "-i", inv, "--output", "json"]);
      assert.equal(r.code, 0, r.stderr);
      checkFacts(lab, r.stdout, {
        version: "1.24.17",
        serviceIp: "172.24.0.1",
        serviceCidr: "172.24.0.0/16",
        podCidr: "10.32.0.0/16",
        domain: "corp.example",
      });
    });
  },
);
