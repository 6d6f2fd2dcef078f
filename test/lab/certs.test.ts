// `kubeha certs render` and `kubeha certs check` against the lab, checked with real clients:
// kubectl (Go's TLS) against an apiserver serving the rendered certificate, openssl for planted ones.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLab, type Lab } from "./lab.js";
import { kubeha } from "./kubeha.js";
import { labSkip } from "../helpers/skip.js";

const skip = labSkip();

describe("certs render and certs check", { skip }, () => {
  let lab: Lab;
  let work: string;
  const pki = (host: string) => join(lab.dir, "h", host, "etc-kubernetes", "pki");
  before(async () => {
    lab = await startLab({ workers: 1 });
    work = await mkdtemp(join(tmpdir(), "kubeha-certs-"));
  });
  after(async () => {
    await lab?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test("render --out writes the complete set, keys readable by the owner only", async () => {
    const out = join(work, "master-3");
    const r = await kubeha(lab, [
      "certs",
      "render",
      "--node",
      "master-3",
      "-i",
      lab.inventoryFile,
      "--out",
      out,
    ]);
    assert.equal(r.code, 0, r.stderr);
    for (const f of ["pki/apiserver.key", "pki/etcd/peer.key", "pki/ca.key", "admin.conf", "kubelet.conf"]) {
      assert.equal((await stat(join(out, f))).mode & 0o777, 0o600, f);
    }
    assert.equal((await stat(join(out, "pki/apiserver.crt"))).mode & 0o777, 0o644);
    const again = await kubeha(lab, [
      "certs",
      "render",
      "--node",
      "master-3",
      "-i",
      lab.inventoryFile,
      "--out",
      out,
    ]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing written/);
  });

  test("render --push: kubectl accepts the new master's apiserver by its address and the LB's name, not by another master's", async () => {
    const m2 = lab.host("master-2");
    const push = () =>
      kubeha(lab, ["certs", "render", "--node", "master-2", "-i", lab.inventoryFile, "--push"]);
    const r = await push();
    assert.equal(r.code, 0, r.stderr);
    // What it writes is shown first, from its own recorded run (keys described, never printed), then written.
    const shown = r.stdout.indexOf("/etc/kubernetes/pki/apiserver.key (0600, secret)");
    assert.ok(shown >= 0, r.stdout);
    assert.ok(r.stdout.indexOf("wrote master-2:/etc/kubernetes/pki/apiserver.key") > shown, r.stdout);
    assert.doesNotMatch(r.stdout + r.stderr, /PRIVATE KEY-----|client-key-data: [A-Za-z0-9+/]{20}/);
    assert.match(r.stdout, /✓ master-2: its certificates and kubeconfigs complete and valid/);
    // Again: nothing to write, and the plan says so.
    const again = await push();
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /nothing: the steps before it leave nothing for it to change/);
    assert.match(again.stdout, /nothing written/);
    assert.doesNotMatch(again.stdout, /^wrote /m);
    // An apiserver on master-2 with those files: the primary's manifest with master-2's address.
    const manifest = (
      await readFile(
        join(lab.dir, "h", "master-1", "etc-kubernetes", "manifests", "kube-apiserver.yaml"),
        "utf8",
      )
    )
      .split(lab.primary.address)
      .join(m2.address);
    await writeFile(
      join(lab.dir, "h", "master-2", "etc-kubernetes", "manifests", "kube-apiserver.yaml"),
      manifest,
      { mode: 0o600 },
    );
    const kubectl = (serverName?: string) =>
      lab.wsExec([
        "kubectl",
        "--kubeconfig",
        lab.adminKubeconfig,
        "--server",
        `https://${m2.address}:6443`,
        ...(serverName ? ["--tls-server-name", serverName] : []),
        "--request-timeout=5s",
        "get",
        "--raw",
        "/version",
      ]);
    try {
      let byAddress = await kubectl();
      for (let i = 0; i < 50 && byAddress.code !== 0 && /refused/.test(byAddress.stderr); i++) {
        await new Promise((res) => setTimeout(res, 200)); // the kubelet stand-in is starting it
        byAddress = await kubectl();
      }
      assert.equal(byAddress.code, 0, byAddress.stderr);
      const byLbName = await kubectl(lab.lbDnsName);
      assert.equal(byLbName.code, 0, byLbName.stderr);
      const byOther = await kubectl(lab.host("master-3").address);
      assert.notEqual(byOther.code, 0);
      assert.match(byOther.stderr, /x509: certificate is valid for .*not 10\./);
    } finally {
      await rm(join(lab.dir, "h", "master-2", "etc-kubernetes", "manifests", "kube-apiserver.yaml"), {
        force: true,
      });
    }
  });

  test("check flags a certificate without the LB's SAN and one that expires in 10 days", async () => {
    const ca = pki("master-1");
    const target = pki("master-2");
    const sign = (name: string, subj: string, days: number, san: string) => {
      execFileSync("openssl", ["genrsa", "-out", join(target, `${name}.key`), "2048"], { stdio: "ignore" });
      execFileSync("openssl", [
        "req",
        "-new",
        "-key",
        join(target, `${name}.key`),
        "-subj",
        subj,
        "-out",
        join(work, `${name}.csr`),
      ]);
      writeFileSync(
        join(work, `${name}.ext`),
        `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`,
      );
      execFileSync(
        "openssl",
        [
          "x509",
          "-req",
          "-in",
          join(work, `${name}.csr`),
          "-CA",
          join(ca, "ca.crt"),
          "-CAkey",
          join(ca, "ca.key"),
          "-CAcreateserial",
          "-days",
          String(days),
          "-extfile",
          join(work, `${name}.ext`),
          "-out",
          join(target, `${name}.crt`),
        ],
        { stdio: "ignore" },
      );
    };
    const m2 = lab.host("master-2");
    // Everything but the load balancer's address and name.
    sign(
      "apiserver",
      "/CN=kube-apiserver",
      365,
      `DNS:master-2,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:${m2.address}`,
    );
    sign(
      "apiserver-kubelet-client",
      "/O=kubeadm:cluster-admins/CN=kube-apiserver-kubelet-client",
      10,
      "DNS:unused",
    );
    const r = await kubeha(lab, ["certs", "check", "-i", lab.inventoryFile]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const m2Block = r.stdout.slice(r.stdout.indexOf("master-2:"), r.stdout.indexOf("master-3:"));
    assert.match(m2Block, /✗ pki\/apiserver\.crt: SANs missing: .*api\.lab\.internal/);
    assert.match(m2Block, new RegExp(`SANs missing: .*${lab.lb.address.replace(/\./g, "\\.")}`));
    assert.match(m2Block, /! pki\/apiserver-kubelet-client\.crt: expires in [89] days/);
    const json = await kubeha(lab, ["certs", "check", "-i", lab.inventoryFile, "--output", "json"]);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; nodes: { node: string; problems: string[] }[] };
    assert.equal(parsed.ok, false);
    assert.ok(
      parsed.nodes
        .find((n) => n.node === "master-2")
        ?.problems.some((p) => p.startsWith("pki/apiserver.crt: SANs missing")),
    );
  });
});
