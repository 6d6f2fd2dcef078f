import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { unifiedDiff } from "../../src/render/diff.js";
import {
  clusterInfoSetServer,
  kubeadmConfigSetEndpoint,
  kubeconfigServers,
  kubeProxyKubeconfigSetServer,
  lbEndpoint,
  lbSans,
  lbServerURL,
} from "../../src/render/kubeadm-config.js";

const FIXTURES = new URL("../../../test/fixtures/manifests/configmaps/", import.meta.url);
const fixture = (name: string) => readFileSync(new URL(name, FIXTURES), "utf8");
const lb = { address: "10.0.0.20", port: 6443, dnsName: "api.example.com" };

function changedLines(diff: string): string[] {
  return diff.split("\n").filter((l) => /^[-+](?![-+]{2} )/.test(l));
}

describe("kubeadm-config ClusterConfiguration", () => {
  for (const version of ["v1.24", "v1.31"]) {
    it(`${version}: controlPlaneEndpoint and certSANs set, every other field unchanged`, () => {
      const before = fixture(`cluster-configuration-${version}.yaml`);
      const r = kubeadmConfigSetEndpoint(before, lbEndpoint(lb), lbSans(lb));
      assert.equal(r.changed, true);
      const a = parse(before) as Record<string, Record<string, unknown>>;
      const b = parse(r.text) as Record<string, Record<string, unknown>>;
      assert.equal(b.controlPlaneEndpoint, "10.0.0.20:6443");
      const sans = b.apiServer?.certSANs as string[];
      assert.ok(sans.includes("10.0.0.20") && sans.includes("api.example.com"));
      for (const s of (a.apiServer?.certSANs as string[] | undefined) ?? [])
        assert.ok(sans.includes(s), `kept ${s}`);
      delete b.controlPlaneEndpoint;
      delete b.apiServer?.certSANs;
      delete a.apiServer?.certSANs;
      assert.deepEqual(b, a);
      // Only added lines in the diff: nothing else was touched.
      assert.ok(
        changedLines(r.diff).every((l) => l.startsWith("+")),
        r.diff,
      );
      // kubeadm's sorted key order is kept.
      assert.ok(r.text.indexOf("clusterName:") < r.text.indexOf("controlPlaneEndpoint:"));
      assert.ok(r.text.indexOf("controlPlaneEndpoint:") < r.text.indexOf("controllerManager:"));
    });
  }

  it("is idempotent and adds no duplicate SANs (names case-insensitively, IPs by value)", () => {
    const once = kubeadmConfigSetEndpoint(fixture("cluster-configuration-v1.24.yaml"), "10.0.0.20:6443", [
      "10.0.0.20",
      "K8S-MASTER.example.com",
    ]);
    const sans = (parse(once.text) as { apiServer: { certSANs: string[] } }).apiServer.certSANs;
    assert.deepEqual(sans, ["k8s-master.example.com", "10.0.0.20"]);
    const twice = kubeadmConfigSetEndpoint(
      once.text,
      "10.0.0.20:6443",
      ["10.0.0.20", "api.example.com"].slice(0, 1),
    );
    assert.equal(twice.changed, false);
    assert.equal(twice.text, once.text);
    assert.equal(twice.diff, "");
  });

  it("keeps comments, and fills an empty apiServer {} in block style", () => {
    const text = "# set by the operator\napiServer: {}\nkind: ClusterConfiguration # keep me\n";
    const r = kubeadmConfigSetEndpoint(text, "[fd00::20]:6443", ["fd00::20"]);
    assert.match(r.text, /^# set by the operator\n/);
    assert.match(r.text, /# keep me/);
    assert.match(r.text, /apiServer:\n {2}certSANs:\n {2}- fd00::20\n/);
    assert.equal((parse(r.text) as { controlPlaneEndpoint: string }).controlPlaneEndpoint, "[fd00::20]:6443");
  });

  it("refuses something that is not a ClusterConfiguration", () => {
    assert.throws(() => kubeadmConfigSetEndpoint("kind: InitConfiguration\n", "x:1", []), {
      message: /kind is "InitConfiguration"/,
    });
  });
});

describe("kubeconfigs in ConfigMaps", () => {
  it("kube-proxy's kubeconfig.conf: only the server line changes", () => {
    const before = fixture("kube-proxy-kubeconfig.conf");
    const r = kubeProxyKubeconfigSetServer(before, lbServerURL(lb));
    assert.deepEqual(changedLines(r.diff), [
      "-    server: https://10.0.0.11:6443",
      "+    server: https://10.0.0.20:6443",
    ]);
    assert.deepEqual(kubeconfigServers(r.text), ["https://10.0.0.20:6443"]);
    assert.equal(r.text, before.replace("https://10.0.0.11:6443", "https://10.0.0.20:6443"));
    assert.equal(kubeProxyKubeconfigSetServer(r.text, lbServerURL(lb)).changed, false);
  });

  it("cluster-info's kubeconfig: only the server line changes, the CA stays", () => {
    const before = fixture("cluster-info-kubeconfig.yaml");
    const r = clusterInfoSetServer(before, lbServerURL(lb, true));
    assert.equal(r.text, before.replace("https://10.0.0.11:6443", "https://api.example.com:6443"));
    assert.match(
      r.diff,
      /^--- a\/kube-public\/cluster-info kubeconfig\n\+\+\+ b\/kube-public\/cluster-info kubeconfig\n@@ /,
    );
  });

  it("refuses a kubeconfig without clusters", () => {
    assert.throws(() => clusterInfoSetServer("apiVersion: v1\nkind: Config\n", "https://x:6443"), {
      message: /cluster-info kubeconfig: clusters is missing/,
    });
  });
});

describe("unified diff", () => {
  it("shows hunks with context and correct line numbers", () => {
    const a = Array.from({ length: 20 }, (_, i) => `line ${i + 1}`).join("\n") + "\n";
    const b = a.replace("line 3\n", "line three\n").replace("line 18\n", "");
    const d = unifiedDiff(a, b, { fromFile: "a/x", toFile: "b/x" });
    assert.equal(
      d,
      [
        "--- a/x",
        "+++ b/x",
        "@@ -1,6 +1,6 @@",
        " line 1",
        " line 2",
        "-line 3",
        "+line three",
        " line 4",
        " line 5",
        " line 6",
        "@@ -15,6 +15,5 @@",
        " line 15",
        " line 16",
        " line 17",
        "-line 18",
        " line 19",
        " line 20",
        "",
      ].join("\n"),
    );
    assert.equal(unifiedDiff(a, a), "");
  });
});
