// The real flavour's kubelet stand-in runs the binary of each manifest's image from the build cache.
import { test } from "node:test";
import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseManifest, realBinary } from "./kubelet-pods.js";

const pod = (image: string, command: string): string =>
  `apiVersion: v1\nkind: Pod\nmetadata:\n  name: x\nspec:\n  containers:\n  - name: x\n    image: ${image}\n    command:\n    - ${command}\n    - --flag=1\n`;

test("an image's name and version pick the cached binary; a missing one is refused by name", async () => {
  const cache = await mkdtemp(join(tmpdir(), "khl-real-"));
  try {
    for (const [dir, bin] of [
      ["etcd-v3.7.0", "etcd"],
      ["kubernetes-v1.37.2", "kube-apiserver"],
    ] as const) {
      await mkdir(join(cache, dir, "bin"), { recursive: true });
      await writeFile(join(cache, dir, "bin", bin), "");
      await chmod(join(cache, dir, "bin", bin), 0o755);
    }
    const launchers = { etcd: "/usr/bin/etcd", standins: "/nowhere", real: cache };
    // kubeadm's etcd image carries its own revision (-0); the manifest's command path is not used.
    assert.deepEqual(parseManifest(pod("registry.k8s.io/etcd:3.7.0-0", "etcd"), launchers).argv, [
      join(cache, "etcd-v3.7.0/bin/etcd"),
      "--flag=1",
    ]);
    assert.deepEqual(
      parseManifest(pod("registry.k8s.io/kube-apiserver:v1.37.2", "/usr/local/bin/kube-apiserver"), launchers)
        .argv,
      [join(cache, "kubernetes-v1.37.2/bin/kube-apiserver"), "--flag=1"],
    );
    assert.throws(() => realBinary("registry.k8s.io/kube-scheduler:v1.37.2", cache), {
      message: /kubernetes-v1\.37\.2\/bin\/kube-scheduler is missing \(run scripts\/build-kubernetes\.sh\)/,
    });
    assert.throws(() => realBinary("busybox", cache), {
      message: /image busybox names no component and version/,
    });
    // Without a cache the stand-ins run, as before.
    const fake = parseManifest(pod("registry.k8s.io/etcd:3.7.0-0", "etcd"), {
      etcd: "/usr/bin/etcd",
      standins: "/x",
    });
    assert.deepEqual(fake.argv, ["/usr/bin/etcd", "--flag=1"]);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});
