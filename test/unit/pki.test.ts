/**
 * Issuing checked by tools that are not ours: the CAs are made by the openssl CLI, and every
 * certificate kubeha issues is checked with `openssl verify`, `openssl x509 -checkip/-checkhost`
 * and `openssl x509 -text`; where kubectl is installed, Go's TLS stack checks the serving cert.
 */
import assert from "node:assert/strict";
import { execFile as execFileCb, execFileSync, spawnSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { inspectCertificate, keyMatchesCert, sansCover, verifyChain } from "../../src/pki/inspect.js";
import { generateKey, issue, loadCa, tbsFields, type CaMaterial } from "../../src/pki/issue.js";
import { parseKubeconfig } from "../../src/pki/kubeconfig.js";
import {
  loadCas,
  planNodePki,
  renderNodePki,
  sharedPki,
  type FileSet,
  type NodePkiInput,
} from "../../src/pki/render.js";
import type { CaName } from "../../src/pki/specs.js";
import { servingProblems } from "../../src/pki/check.js";
import { skipUnlessCi } from "../helpers/skip.js";

const execFile = promisify(execFileCb);
const openssl = (...args: string[]): string =>
  execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
const hasKubectl = spawnSync("kubectl", ["version", "--client"], { stdio: "ignore" }).status === 0;

const work = mkdtempSync(join(tmpdir(), "kubeha-pki-test-"));
after(() => rmSync(work, { recursive: true, force: true }));

type KeyKind = "rsa" | "ec";

/** A CA made by the openssl CLI, as kubeadm would have: self-signed, CA:TRUE, keyCertSign. */
function opensslCa(dir: string, cn: string, kind: KeyKind, days = 3650): CaMaterial & { certFile: string } {
  mkdirSync(dir, { recursive: true });
  const key = join(dir, `${cn}.key`);
  const crt = join(dir, `${cn}.crt`);
  const keyArgs =
    kind === "rsa" ? ["-newkey", "rsa:2048"] : ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"];
  openssl(
    "req",
    "-x509",
    ...keyArgs,
    "-nodes",
    "-keyout",
    key,
    "-out",
    crt,
    "-subj",
    `/CN=${cn}`,
    "-days",
    String(days),
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,digitalSignature,keyEncipherment,keyCertSign",
  );
  return { certPem: readFileSync(crt, "utf8"), keyPem: readFileSync(key, "utf8"), certFile: crt };
}

function opensslCas(dir: string, kind: KeyKind): Record<CaName, CaMaterial & { certFile: string }> {
  return {
    ca: opensslCa(dir, "kubernetes", kind),
    "front-proxy-ca": opensslCa(dir, "front-proxy-ca", kind),
    "etcd-ca": opensslCa(dir, "etcd-ca", kind),
  };
}

function writeFiles(dir: string, files: FileSet): void {
  for (const [rel, f] of files) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), f.content, { mode: f.mode });
  }
}

const input = (cas: Record<CaName, CaMaterial>, version = "v1.30.4"): NodePkiInput => ({
  node: { name: "master-2", address: "10.0.0.12" },
  cluster: {
    kubernetesVersion: version,
    serviceCidr: "172.24.0.0/16,fd00:10:96::/112",
    clusterDomain: "k8s.example",
  },
  loadBalancer: { address: "10.0.0.20", dnsName: "api.example.com", port: 6443 },
  otherNodes: [
    { name: "master-1", address: "10.0.0.11" },
    { name: "master-3", address: "10.0.0.13" },
  ],
  cas,
});

function checkHost(certFile: string, name: string): boolean {
  return /does match certificate/.test(openssl("x509", "-in", certFile, "-noout", "-checkhost", name));
}
function checkIp(certFile: string, ip: string): boolean {
  return /does match certificate/.test(openssl("x509", "-in", certFile, "-noout", "-checkip", ip));
}

for (const kind of ["rsa", "ec"] as const) {
  describe(`every spec issued by a ${kind.toUpperCase()} CA made with openssl`, () => {
    const dir = join(work, kind);
    let cas: Record<CaName, CaMaterial & { certFile: string }>;
    let files: FileSet;
    const out = join(dir, "etc-kubernetes");

    before(async () => {
      cas = opensslCas(join(dir, "cas"), kind);
      files = await renderNodePki(input(cas));
      writeFiles(out, files);
    });

    it("parses a set of CAs once, and still refuses it once one has expired", () => {
      const now = new Date();
      const first = loadCas(cas, now);
      assert.equal(loadCas(cas, now), first);
      assert.notEqual(loadCas({ ...cas }, now), first);
      assert.throws(() => loadCas(cas, new Date(Date.now() + 20 * 365 * 86_400_000)), /CA \S+: expired/);
    });

    it("renders the full set: 7 pairs and 5 kubeconfigs, keys 0600, certs 0644", () => {
      const paths = [...files.keys()].sort();
      assert.deepEqual(paths, [
        "admin.conf",
        "controller-manager.conf",
        "kubelet.conf",
        "pki/apiserver-etcd-client.crt",
        "pki/apiserver-etcd-client.key",
        "pki/apiserver-kubelet-client.crt",
        "pki/apiserver-kubelet-client.key",
        "pki/apiserver.crt",
        "pki/apiserver.key",
        "pki/etcd/healthcheck-client.crt",
        "pki/etcd/healthcheck-client.key",
        "pki/etcd/peer.crt",
        "pki/etcd/peer.key",
        "pki/etcd/server.crt",
        "pki/etcd/server.key",
        "pki/front-proxy-client.crt",
        "pki/front-proxy-client.key",
        "scheduler.conf",
        "super-admin.conf",
      ]);
      for (const [p, f] of files) assert.equal(f.mode, p.endsWith(".crt") ? 0o644 : 0o600, p);
      const keyHeader = kind === "rsa" ? "-----BEGIN RSA PRIVATE KEY-----" : "-----BEGIN EC PRIVATE KEY-----";
      for (const [p, f] of files) if (p.endsWith(".key")) assert.ok(f.content.startsWith(keyHeader), p);
    });

    for (const item of planNodePki(input(opensslCas(join(work, "plan-" + kind), kind)))) {
      if (item.output.kind !== "pair") continue;
      const base = item.output.baseName;
      const purposes = item.extKeyUsages.map((u) => (u === "serverAuth" ? "sslserver" : "sslclient"));

      it(`${base}: openssl verify accepts it against ${item.ca} for ${purposes.join(" and ")}`, () => {
        const crt = join(out, "pki", `${base}.crt`);
        for (const purpose of purposes) {
          assert.match(openssl("verify", "-CAfile", cas[item.ca].certFile, "-purpose", purpose, crt), /: OK/);
        }
        // ...and not against another CA.
        const other = item.ca === "etcd-ca" ? "ca" : "etcd-ca";
        assert.equal(
          spawnSync("openssl", ["verify", "-CAfile", cas[other].certFile, crt]).status !== 0,
          true,
        );
        assert.deepEqual(verifyChain(readFileSync(crt, "utf8"), cas[item.ca].certPem), { ok: true });
        assert.equal(verifyChain(readFileSync(crt, "utf8"), cas[other].certPem).ok, false);
      });

      it(`${base}: subject, key usages and extensions as openssl prints them`, () => {
        const crt = join(out, "pki", `${base}.crt`);
        const subject = openssl(
          "x509",
          "-in",
          crt,
          "-noout",
          "-subject",
          "-nameopt",
          "sep_comma_plus_space,space_eq,sname",
        ).trim();
        const expected = [...item.organizations.map((o) => `O = ${o}`), `CN = ${item.commonName}`].join(", ");
        assert.equal(subject, `subject=${expected}`);
        const text = openssl("x509", "-in", crt, "-noout", "-text");
        assert.match(text, /X509v3 Key Usage: critical\n\s+(.+)\n/);
        assert.equal(
          /X509v3 Key Usage: critical\n\s+(.+)\n/.exec(text)![1],
          kind === "rsa" ? "Digital Signature, Key Encipherment" : "Digital Signature",
        );
        const eku = item.extKeyUsages
          .map((u) =>
            u === "serverAuth" ? "TLS Web Server Authentication" : "TLS Web Client Authentication",
          )
          .join(", ");
        assert.equal(/X509v3 Extended Key Usage: ?\n\s+(.+)\n/.exec(text)![1], eku);
        assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE/);
        assert.match(text, /X509v3 Subject Key Identifier: ?\n\s+[0-9A-F:]{59}\n/);
        assert.match(text, kind === "rsa" ? /Public-Key: \(2048 bit\)/ : /ASN1 OID: prime256v1/);
        // The AKI is the CA's SKI; the issuer is the CA's subject byte for byte.
        const info = inspectCertificate(readFileSync(crt, "utf8"));
        const caInfo = inspectCertificate(cas[item.ca].certPem);
        assert.equal(info.aki, caInfo.ski);
        assert.ok(
          tbsFields(new X509Certificate(readFileSync(crt)).raw).issuer.equals(
            tbsFields(new X509Certificate(cas[item.ca].certPem).raw).subject,
          ),
        );
        assert.equal(info.serial.length, 32, "a 128-bit serial");
        assert.ok(parseInt(info.serial[0]!, 16) < 8, "positive serial");
      });

      it(`${base}: openssl -checkhost/-checkip pass for every SAN and fail for other names`, () => {
        const crt = join(out, "pki", `${base}.crt`);
        for (const d of item.sans.dns) assert.ok(checkHost(crt, d), `checkhost ${d}`);
        for (const ip of item.sans.ips) assert.ok(checkIp(crt, ip), `checkip ${ip}`);
        assert.equal(checkHost(crt, "not-in-the-cert.example.com"), false);
        assert.equal(checkHost(crt, "master-1"), false, "another master's name");
        assert.equal(checkIp(crt, "10.0.0.11"), false, "another master's address");
        assert.equal(checkIp(crt, "fd00:10:96::2"), false);
        assert.deepEqual(sansCover(readFileSync(crt, "utf8"), item.sans), []);
        if (item.sans.dns.length > 0)
          assert.deepEqual(sansCover(readFileSync(crt, "utf8"), ["10.0.0.11", "master-1"]), [
            "10.0.0.11",
            "master-1",
          ]);
      });

      it(`${base}: the key matches the certificate (kubeha and openssl agree)`, () => {
        const crt = join(out, "pki", `${base}.crt`);
        const key = join(out, "pki", `${base}.key`);
        assert.ok(keyMatchesCert(readFileSync(key, "utf8"), readFileSync(crt, "utf8")));
        if (kind === "rsa") assert.match(openssl("rsa", "-check", "-noout", "-in", key), /RSA key ok/);
        else assert.match(openssl("ec", "-check", "-noout", "-in", key), /^$/);
        assert.equal(
          openssl("pkey", "-in", key, "-pubout"),
          openssl("x509", "-in", crt, "-noout", "-pubkey"),
        );
        const otherKey = join(out, "pki", base === "apiserver" ? "front-proxy-client.key" : "apiserver.key");
        assert.equal(keyMatchesCert(readFileSync(otherKey, "utf8"), readFileSync(crt, "utf8")), false);
      });
    }

    it("the apiserver certificate has exactly the computed SANs", () => {
      const info = inspectCertificate(files.get("pki/apiserver.crt")!.content);
      assert.deepEqual(info.sans, {
        dns: [
          "master-2",
          "kubernetes",
          "kubernetes.default",
          "kubernetes.default.svc",
          "kubernetes.default.svc.k8s.example",
          "api.example.com",
        ],
        ips: ["172.24.0.1", "fd00:10:96::1", "10.0.0.12", "10.0.0.20"],
      });
      assert.equal(info.subject.commonName, "kube-apiserver");
      assert.equal(info.keyAlgorithm, kind);
    });

    it("kubeconfigs: user, organisation, server, CA and an embedded pair that matches and verifies", () => {
      const expected: Record<string, { user: string; o: string[]; server: string }> = {
        "admin.conf": {
          user: "kubernetes-admin",
          o: ["kubeadm:cluster-admins"],
          server: "https://api.example.com:6443",
        },
        "super-admin.conf": {
          user: "kubernetes-super-admin",
          o: ["system:masters"],
          server: "https://api.example.com:6443",
        },
        "controller-manager.conf": {
          user: "system:kube-controller-manager",
          o: [],
          server: "https://10.0.0.12:6443",
        },
        "scheduler.conf": { user: "system:kube-scheduler", o: [], server: "https://10.0.0.12:6443" },
        "kubelet.conf": {
          user: "system:node:master-2",
          o: ["system:nodes"],
          server: "https://api.example.com:6443",
        },
      };
      for (const [file, want] of Object.entries(expected)) {
        const kc = parseKubeconfig(files.get(file)!.content, { file });
        assert.equal(kc.server, want.server, file);
        assert.equal(kc.userName, want.user, file);
        assert.equal(kc.contextName, `${want.user}@kubernetes`);
        assert.equal(kc.ca?.pem, cas.ca.certPem, file);
        const info = inspectCertificate(kc.clientCert!.pem!);
        assert.equal(info.subject.commonName, want.user, file);
        assert.deepEqual(info.subject.organizations, want.o, file);
        assert.deepEqual(info.extKeyUsages, ["clientAuth"]);
        assert.ok(keyMatchesCert(kc.clientKey!.pem!, kc.clientCert!.pem!), file);
        assert.deepEqual(verifyChain(kc.clientCert!.pem!, cas.ca.certPem), { ok: true });
      }
    });

    it("inspect reads what openssl reads", () => {
      const pem = files.get("pki/etcd/server.crt")!.content;
      const info = inspectCertificate(pem);
      const serial = openssl("x509", "-noout", "-serial", "-in", join(out, "pki/etcd/server.crt"))
        .trim()
        .replace("serial=", "");
      assert.equal(info.serial, serial);
      assert.equal(info.isCA, false);
      assert.equal(info.issuer.commonName, "etcd-ca");
      assert.equal(info.subject.commonName, "master-2");
      assert.deepEqual(info.sans, { dns: ["master-2", "localhost"], ips: ["10.0.0.12", "127.0.0.1", "::1"] });
      assert.deepEqual(info.extKeyUsages, ["serverAuth", "clientAuth"]);
      if (kind === "rsa") assert.equal(info.keySize, 2048);
      else assert.equal(info.curve, "P-256");
    });

    it(
      "Go's TLS (kubectl) accepts the apiserver cert by node address and LB name, rejects another master's address",
      { skip: skipUnlessCi(!hasKubectl && "kubectl not installed") },
      async () => {
        // Loopback aliases stand in for the node (127.0.0.2) and another master (127.0.0.3).
        const local = await renderNodePki({
          ...input(cas),
          node: { name: "master-2", address: "127.0.0.2" },
          otherNodes: [{ name: "master-1", address: "127.0.0.3" }],
          only: ["apiserver"],
        });
        const server = createServer(
          { cert: local.get("pki/apiserver.crt")!.content, key: local.get("pki/apiserver.key")!.content },
          (_req, res) => res.end("ok"),
        );
        await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
        const port = (server.address() as AddressInfo).port;
        const kubectl = async (host: string, tlsName?: string): Promise<{ ok: boolean; stderr: string }> => {
          const args = [
            "--kubeconfig=/dev/null",
            "--token=kubeha-test",
            `--server=https://${host}:${port}`,
            `--certificate-authority=${cas.ca.certFile}`,
            "--request-timeout=5s",
          ];
          if (tlsName) args.push(`--tls-server-name=${tlsName}`);
          try {
            await execFile("kubectl", [...args, "get", "--raw", "/healthz"], { timeout: 20_000 });
            return { ok: true, stderr: "" };
          } catch (err) {
            return { ok: false, stderr: String((err as { stderr?: string }).stderr) };
          }
        };
        try {
          assert.deepEqual(await kubectl("127.0.0.2"), { ok: true, stderr: "" });
          assert.deepEqual(await kubectl("127.0.0.2", "api.example.com"), { ok: true, stderr: "" });
          const wrong = await kubectl("127.0.0.3");
          assert.equal(wrong.ok, false);
          assert.match(wrong.stderr, /x509: certificate is valid for .*not 127\.0\.0\.3/);
        } finally {
          server.close();
        }
      },
    );
  });
}

describe("key generation", () => {
  for (const bits of [2048, 3072] as const) {
    it(`RSA ${bits}: PKCS#1 PEM that openssl's consistency check accepts`, async () => {
      const key = await generateKey({ type: "rsa", bits });
      assert.ok(key.pem.startsWith("-----BEGIN RSA PRIVATE KEY-----\n"));
      const file = join(work, `gen-${bits}.key`);
      writeFileSync(file, key.pem);
      assert.match(openssl("rsa", "-check", "-noout", "-in", file), /RSA key ok/);
      assert.match(
        openssl("rsa", "-text", "-noout", "-in", file),
        new RegExp(`Private-Key: \\(${bits} bit, 2 primes\\)[\\s\\S]*publicExponent: 65537`),
      );
    });
  }
  it("EC P-256: SEC1 PEM", async () => {
    const key = await generateKey({ type: "ec", curve: "P-256" });
    assert.ok(key.pem.startsWith("-----BEGIN EC PRIVATE KEY-----\n"));
    assert.equal(key.privateKey.asymmetricKeyDetails?.namedCurve, "prime256v1");
  });
  it("refuses an RSA size kubeadm does not use", async () => {
    await assert.rejects(
      generateKey({ type: "rsa", bits: 1024 }),
      /RSA key size 1024: expected 2048, 3072 or 4096/,
    );
  });
});

describe("validity", () => {
  it("is one year, capped at the CA's notAfter", async () => {
    const dir = join(work, "short");
    const short = opensslCa(dir, "short-ca", "rsa", 30);
    const ca = loadCa("ca", short);
    const pair = await issue(ca, { commonName: "x", extKeyUsages: ["clientAuth"] });
    const info = inspectCertificate(pair.certPem);
    assert.equal(info.notAfter.getTime(), ca.notAfter.getTime());
    assert.ok(info.notBefore.getTime() >= ca.notBefore.getTime());
    writeFileSync(join(dir, "leaf.crt"), pair.certPem);
    assert.match(openssl("verify", "-CAfile", short.certFile, join(dir, "leaf.crt")), /: OK/);

    const long = loadCa("ca", opensslCa(join(work, "long"), "long-ca", "rsa", 3650));
    const now = new Date();
    const year = inspectCertificate(
      (await issue(long, { commonName: "y", extKeyUsages: ["clientAuth"], now })).certPem,
    );
    assert.equal(Math.round((year.notAfter.getTime() - now.getTime()) / 86_400_000), 365);
  });

  it("refuses an expired CA, and one that is not a CA or whose key does not match", () => {
    const dir = join(work, "bad");
    const good = opensslCa(dir, "good", "rsa");
    const other = opensslCa(dir, "other", "rsa");
    assert.throws(
      () => loadCa("ca", { certPem: good.certPem, keyPem: other.keyPem }),
      /CA ca: the key does not match the certificate/,
    );
    assert.throws(() => loadCa("ca", good, new Date(Date.now() + 20 * 365 * 86_400_000)), /CA ca: expired/);
    const leafKey = join(dir, "leaf.key");
    openssl(
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      leafKey,
      "-out",
      join(dir, "leaf.crt"),
      "-subj",
      "/CN=leaf",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    );
    assert.throws(
      () =>
        loadCa("ca", {
          certPem: readFileSync(join(dir, "leaf.crt"), "utf8"),
          keyPem: readFileSync(leafKey, "utf8"),
        }),
      /is not a CA/,
    );
  });
});

describe("render options", () => {
  it("a joining master, as kubeadm join: no super-admin.conf (the init node's break-glass credential)", () => {
    const cas = opensslCas(join(work, "joins"), "rsa");
    const files = (joins?: boolean) =>
      planNodePki({ ...input(cas), ...(joins !== undefined && { joins }) }).map((i) => i.id);
    assert.ok(files().includes("super-admin.conf"));
    assert.ok(files(false).includes("super-admin.conf"));
    assert.deepEqual(
      files(true).filter((f) => f.endsWith(".conf")),
      ["admin.conf", "controller-manager.conf", "scheduler.conf", "kubelet.conf"],
    );
  });

  it("before 1.29: system:masters for admin and the clients, no super-admin.conf", async () => {
    const cas = opensslCas(join(work, "v128"), "rsa");
    const files = await renderNodePki(input(cas, "v1.28.7"));
    assert.equal(files.has("super-admin.conf"), false);
    const admin = parseKubeconfig(files.get("admin.conf")!.content);
    assert.deepEqual(inspectCertificate(admin.clientCert!.pem!).subject.organizations, ["system:masters"]);
    for (const p of [
      "pki/apiserver-kubelet-client.crt",
      "pki/apiserver-etcd-client.crt",
      "pki/etcd/healthcheck-client.crt",
    ]) {
      assert.deepEqual(
        inspectCertificate(files.get(p)!.content).subject.organizations,
        ["system:masters"],
        p,
      );
    }
  });

  it("only, organisation overrides, the primary's inherited SANs and an explicit key algorithm", async () => {
    const cas = opensslCas(join(work, "opts"), "rsa");
    const files = await renderNodePki({
      ...input(cas),
      only: ["apiserver", "apiserver-kubelet-client"],
      organizationOverrides: { "apiserver-kubelet-client": [] },
      inheritedSans: { dns: ["master-1", "old-name.example.com"], ips: ["10.0.0.11", "198.51.100.9"] },
      keyAlgorithm: { type: "ec", curve: "P-256" },
    });
    assert.deepEqual([...files.keys()].sort(), [
      "pki/apiserver-kubelet-client.crt",
      "pki/apiserver-kubelet-client.key",
      "pki/apiserver.crt",
      "pki/apiserver.key",
    ]);
    const api = inspectCertificate(files.get("pki/apiserver.crt")!.content);
    assert.ok(api.sans.dns.includes("old-name.example.com") && api.sans.ips.includes("198.51.100.9"));
    assert.ok(!api.sans.dns.includes("master-1") && !api.sans.ips.includes("10.0.0.11"));
    assert.equal(api.keyAlgorithm, "ec");
    assert.deepEqual(
      inspectCertificate(files.get("pki/apiserver-kubelet-client.crt")!.content).subject.organizations,
      [],
    );
    await assert.rejects(
      renderNodePki({ ...input(cas), only: ["apiserver", "nope"] }),
      /only: unknown certificate or kubeconfig "nope"/,
    );
  });

  it("sharedPki copies the CAs and sa.key/sa.pub verbatim, keys 0600, and checks they pair", () => {
    const dir = join(work, "shared");
    const cas = opensslCas(dir, "rsa");
    openssl("genrsa", "-out", join(dir, "sa.key"), "2048");
    openssl("rsa", "-in", join(dir, "sa.key"), "-pubout", "-out", join(dir, "sa.pub"));
    const sa = {
      keyPem: readFileSync(join(dir, "sa.key"), "utf8"),
      pubPem: readFileSync(join(dir, "sa.pub"), "utf8"),
    };
    const files = sharedPki({ cas, serviceAccount: sa });
    assert.deepEqual(
      [...files].map(([p, f]) => [p, f.mode]),
      [
        ["pki/ca.crt", 0o644],
        ["pki/ca.key", 0o600],
        ["pki/front-proxy-ca.crt", 0o644],
        ["pki/front-proxy-ca.key", 0o600],
        ["pki/etcd/ca.crt", 0o644],
        ["pki/etcd/ca.key", 0o600],
        ["pki/sa.key", 0o600],
        ["pki/sa.pub", 0o644],
      ],
    );
    assert.equal(files.get("pki/etcd/ca.key")!.content, cas["etcd-ca"].keyPem);
    assert.equal(files.get("pki/sa.pub")!.content, sa.pubPem);
    openssl("genrsa", "-out", join(dir, "sa2.key"), "2048");
    assert.throws(
      () => sharedPki({ cas, serviceAccount: { ...sa, keyPem: readFileSync(join(dir, "sa2.key"), "utf8") } }),
      /sa.key\/sa.pub: the public key is not sa.key's/,
    );
  });
});

describe("a served certificate as its clients check it (verify's one check of certificate names)", () => {
  it("names the CA, the names it lacks and the names it must not have", async () => {
    const ca = opensslCa(join(work, "serving"), "serving-ca", "rsa");
    const other = opensslCa(join(work, "serving-other"), "other-ca", "rsa");
    const pair = await issue(loadCa("ca", ca), {
      commonName: "kube-apiserver",
      extKeyUsages: ["serverAuth"],
      dns: ["api.example.com"],
      ips: ["10.0.0.12", "10.0.0.20"],
    });
    const cert = new X509Certificate(pair.certPem);
    assert.deepEqual(servingProblems(cert, ca.certPem, ["10.0.0.12", "10.0.0.20", "api.example.com"]), []);
    assert.deepEqual(servingProblems(cert, ca.certPem, ["10.0.0.12", "10.0.0.21", "lb.example.com"]), [
      "not valid for 10.0.0.21, lb.example.com",
    ]);
    // 10.0.0.1 is not 10.0.0.12: addresses are compared whole.
    assert.deepEqual(servingProblems(cert, ca.certPem, ["10.0.0.12"], ["10.0.0.1", "10.0.0.20"]), [
      "also valid for 10.0.0.20",
    ]);
    const [problem, ...rest] = servingProblems(cert, other.certPem, ["10.0.0.12"]);
    assert.match(problem!, /issued by CN=kubernetes|issued by .*serving-ca.*, not by CN=other-ca/);
    assert.deepEqual(rest, []);
  });
});
