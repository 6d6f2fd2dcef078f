import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InputError } from "../../src/errors.js";
import { apiserverSans, etcdSans, serviceIps, type ApiserverSanFacts } from "../../src/pki/sans.js";
import { CERT_SPECS, kubeconfigSpecsFor, parseMinorVersion, resolveByVersion } from "../../src/pki/specs.js";

const base: ApiserverSanFacts = {
  nodeName: "master-2",
  advertiseAddress: "10.0.0.12",
  serviceCidr: "10.96.0.0/12",
  loadBalancer: { address: "10.0.0.20", dnsName: "api.example.com" },
};

describe("apiserver SANs", () => {
  it("IPv4: hostname, the kubernetes names, first service IP, own address, the LB's address and name", () => {
    assert.deepEqual(apiserverSans(base), {
      dns: [
        "master-2",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        "api.example.com",
      ],
      ips: ["10.96.0.1", "10.0.0.12", "10.0.0.20"],
    });
  });

  it("custom service CIDR 172.24.0.0/16 gives 172.24.0.1, also when the CIDR is not aligned", () => {
    assert.deepEqual(serviceIps("172.24.0.0/16"), ["172.24.0.1"]);
    assert.deepEqual(serviceIps("10.96.5.7/12"), ["10.96.0.1"]);
    assert.equal(apiserverSans({ ...base, serviceCidr: "172.24.0.0/16" }).ips[0], "172.24.0.1");
  });

  it("custom cluster domain", () => {
    const sans = apiserverSans({ ...base, clusterDomain: "k8s.corp.example" });
    assert.ok(sans.dns.includes("kubernetes.default.svc.k8s.corp.example"));
    assert.ok(!sans.dns.includes("kubernetes.default.svc.cluster.local"));
  });

  it("IPv6 single-stack: first address of the range, addresses in RFC 5952 form", () => {
    const sans = apiserverSans({
      nodeName: "m1",
      advertiseAddress: "FD00:0:0:0:0:0:0:12",
      serviceCidr: "fd00:10:96::/112",
      loadBalancer: { address: "fd00::20" },
    });
    assert.deepEqual(sans.ips, ["fd00:10:96::1", "fd00::12", "fd00::20"]);
  });

  it("dual-stack: the first address of both ranges, in the flag's order", () => {
    assert.deepEqual(serviceIps("10.96.0.0/12,fd00:10:96::/112"), ["10.96.0.1", "fd00:10:96::1"]);
    assert.deepEqual(serviceIps("fd00:10:96::/108, 10.96.0.0/12"), ["fd00:10:96::1", "10.96.0.1"]);
    const sans = apiserverSans({ ...base, serviceCidr: "10.96.0.0/12,fd00:10:96::/112" });
    assert.deepEqual(sans.ips.slice(0, 2), ["10.96.0.1", "fd00:10:96::1"]);
  });

  it("extra SANs are sorted into DNS and IP, normalised and de-duplicated", () => {
    const sans = apiserverSans({
      ...base,
      extraSans: [
        "API.Example.com",
        "10.0.0.20",
        "*.apps.example.com",
        "192.168.1.1",
        "kubernetes",
        "fd00:0::1",
      ],
    });
    assert.deepEqual(sans.dns.slice(5), ["api.example.com", "*.apps.example.com"]);
    assert.deepEqual(sans.ips, ["10.96.0.1", "10.0.0.12", "10.0.0.20", "192.168.1.1", "fd00::1"]);
  });

  it("inherits the primary's SANs but not another master's name or address", () => {
    const sans = apiserverSans({
      ...base,
      inheritedSans: {
        dns: ["master-1", "kubernetes", "legacy.example.com"],
        ips: ["10.96.0.1", "10.0.0.11", "203.0.113.7"],
      },
      otherNodes: [
        { name: "master-1", address: "10.0.0.11" },
        { name: "master-3", address: "10.0.0.13" },
      ],
    });
    assert.ok(sans.dns.includes("legacy.example.com"));
    assert.ok(sans.ips.includes("203.0.113.7"));
    assert.ok(!sans.dns.includes("master-1"));
    assert.ok(!sans.ips.includes("10.0.0.11"));
  });

  it("is stable: the same facts give the same order", () => {
    assert.deepEqual(apiserverSans(base), apiserverSans({ ...base }));
  });

  it("rejects bad input with an error naming the field", () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ serviceCidr: "10.96.0.0" }, /^serviceCidr: "10.96.0.0" is not a CIDR/],
      [{ serviceCidr: "10.96.0.0/31" }, /^serviceCidr: .* too small/],
      [{ serviceCidr: "10.96.0.0/12,10.97.0.0/16" }, /^serviceCidr: .*one IPv4 and one IPv6/],
      [{ serviceCidr: "" }, /^serviceCidr: empty/],
      [{ advertiseAddress: "10.0.0" }, /^advertiseAddress: "10.0.0" is not an IP address/],
      [{ nodeName: "Master_2" }, /^nodeName: "Master_2" is not a valid DNS name/],
      [
        { loadBalancer: { address: "lb.example.com" } },
        /^loadBalancer.address: "lb.example.com" is not an IP address/,
      ],
      [
        { extraSans: ["ok.example.com", "bad name"] } as never,
        /^extraSans\[1\]: "bad name" is not a valid DNS name/,
      ],
      [{ clusterDomain: "-bad" } as never, /^clusterDomain: /],
    ];
    for (const [patch, message] of cases) {
      assert.throws(
        () => apiserverSans({ ...base, ...patch } as never),
        (err: unknown) => err instanceof InputError && message.test(err.message),
        JSON.stringify(patch),
      );
    }
  });
});

describe("etcd SANs", () => {
  it("hostname, localhost, node IP, 127.0.0.1, ::1", () => {
    assert.deepEqual(etcdSans({ nodeName: "master-2", address: "10.0.0.12" }), {
      dns: ["master-2", "localhost"],
      ips: ["10.0.0.12", "127.0.0.1", "::1"],
    });
  });
  it("IPv6 node address", () => {
    assert.deepEqual(etcdSans({ nodeName: "m", address: "fd00::12" }).ips, ["fd00::12", "127.0.0.1", "::1"]);
  });
});

describe("specs", () => {
  it("organisations follow kubeadm's history (1.29: kubeadm:cluster-admins, no O for etcd clients)", () => {
    const org = (name: string, v: string): readonly string[] =>
      resolveByVersion(CERT_SPECS.find((s) => s.name === name)!.organizations, parseMinorVersion(v));
    assert.deepEqual(org("apiserver-kubelet-client", "v1.28.9"), ["system:masters"]);
    assert.deepEqual(org("apiserver-kubelet-client", "v1.29.0"), ["kubeadm:cluster-admins"]);
    assert.deepEqual(org("apiserver-etcd-client", "1.28"), ["system:masters"]);
    assert.deepEqual(org("apiserver-etcd-client", "1.30.2"), []);
    assert.deepEqual(org("etcd-healthcheck-client", "v1.31.0"), []);
  });
  it("super-admin.conf exists from 1.29", () => {
    assert.deepEqual(
      kubeconfigSpecsFor(parseMinorVersion("v1.28.4")).map((k) => k.file),
      ["admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"],
    );
    assert.ok(kubeconfigSpecsFor(parseMinorVersion("v1.29.0")).some((k) => k.file === "super-admin.conf"));
  });
  it("etcd server and peer carry server and client auth, CN = node name", () => {
    for (const name of ["etcd-server", "etcd-peer"]) {
      const s = CERT_SPECS.find((c) => c.name === name)!;
      assert.deepEqual(s.extKeyUsages, ["serverAuth", "clientAuth"]);
      assert.equal(s.commonName, "{node}");
    }
  });
  it("rejects a version that is not one", () => {
    assert.throws(
      () => parseMinorVersion("latest"),
      /kubernetesVersion: "latest" is not a Kubernetes version/,
    );
  });
});
