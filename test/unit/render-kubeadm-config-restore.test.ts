import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { kubeadmConfigSetEndpoint } from "../../src/render/kubeadm-config.js";
import { kubeadmConfigRestore } from "../../src/render/kubeadm-config-restore.js";

const fixture = (v: string) =>
  readFileSync(
    new URL(`../../../test/fixtures/manifests/configmaps/cluster-configuration-${v}.yaml`, import.meta.url),
    "utf8",
  );

describe("kubeadm-config restored for a rollback (pure)", () => {
  for (const v of ["v1.24", "v1.31"]) {
    it(`${v}: the conversion's edit undone gives back the original text, byte for byte`, () => {
      const original = fixture(v);
      const converted = kubeadmConfigSetEndpoint(original, "10.0.0.20:6443", [
        "10.0.0.20",
        "api.example.com",
      ]);
      assert.equal(converted.changed, true);
      const restored = kubeadmConfigRestore(converted.text, original);
      assert.equal(restored.changed, true);
      assert.equal(restored.text, original);
      assert.match(restored.diff, /^-controlPlaneEndpoint: 10\.0\.0\.20:6443$/m);
      assert.equal(kubeadmConfigRestore(original, original).changed, false);
    });
  }

  it("changes made since the conversion (an upgrade) stay; the original endpoint and SANs come back", () => {
    const original =
      "apiServer:\n  certSANs:\n  - old.example.com\ncontrolPlaneEndpoint: 10.0.0.11:6443\nkind: ClusterConfiguration\nkubernetesVersion: v1.30.1\n";
    const converted = kubeadmConfigSetEndpoint(original, "10.0.0.20:6443", ["10.0.0.20"]).text.replace(
      "v1.30.1",
      "v1.31.4",
    );
    const restored = kubeadmConfigRestore(converted, original);
    assert.equal(restored.text, original.replace("v1.30.1", "v1.31.4"));
  });
});
