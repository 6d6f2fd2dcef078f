// A new master's container runtime: `crictl info` as containerd prints it, the kubelet's cgroup
// driver, the images to pull, and the findings that refuse the host.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  crictlInfo,
  kubeletCgroupDriver,
  parseRuntimeProbe,
  runtimeFindings,
  runtimeScript,
} from "../../src/discover/runtime.js";
import type { ClusterFacts, HostFacts } from "../../src/discover/types.js";

/** The shape containerd 1.7's CRI plugin gives `crictl info` (trimmed). */
const containerdInfo = (systemdCgroup: boolean, runtimeReady = true) =>
  JSON.stringify(
    {
      status: {
        conditions: [
          {
            type: "RuntimeReady",
            status: runtimeReady,
            reason: runtimeReady ? "" : "Down",
            message: runtimeReady ? "" : "shim gone",
          },
          {
            type: "NetworkReady",
            status: false,
            reason: "NetworkPluginNotReady",
            message: "cni config uninitialized",
          },
        ],
      },
      cniconfig: { PluginDirs: ["/opt/cni/bin"] },
      config: {
        containerd: {
          snapshotter: "overlayfs",
          defaultRuntimeName: "runc",
          runtimes: {
            runc: {
              runtimeType: "io.containerd.runc.v2",
              options: { BinaryName: "", SystemdCgroup: systemdCgroup },
            },
          },
        },
        sandboxImage: "registry.k8s.io/pause:3.8",
      },
    },
    null,
    2,
  );

describe("crictl info", () => {
  test("containerd's runc options give the cgroup driver; NetworkReady false (no CNI yet) is fine", () => {
    assert.deepEqual(crictlInfo(containerdInfo(true)), { ready: true, cgroupDriver: "systemd" });
    assert.deepEqual(crictlInfo(containerdInfo(false)), { ready: true, cgroupDriver: "cgroupfs" });
  });

  test("warnings before the JSON are skipped; RuntimeReady false is not ready", () => {
    const text = `WARN[0000] runtime connect using default endpoints\n${containerdInfo(true, false)}`;
    const r = crictlInfo(text);
    assert.equal(r.ready, false);
    assert.match(r.why!, /RuntimeReady is false: Down shim gone/);
  });

  test("a runtime that states no driver is not judged", () => {
    assert.equal(crictlInfo('{"status":{"conditions":[]},"config":{}}').cgroupDriver, undefined);
  });

  test("the kubelet's cgroupDriver from its KubeletConfiguration", () => {
    const conf =
      "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\ncgroupDriver: systemd\n";
    assert.equal(kubeletCgroupDriver(conf), "systemd");
    assert.equal(kubeletCgroupDriver("kind: KubeletConfiguration\n"), undefined);
    assert.equal(kubeletCgroupDriver(undefined), undefined);
  });
});

describe("the runtime probe", () => {
  const images = ["registry.k8s.io/etcd:3.5.15-0", "registry.k8s.io/kube-apiserver:v1.31.2"];

  test("asks crictl for every image", () => {
    const script = runtimeScript(images);
    assert.match(script, /crictl info/);
    for (const i of images) assert.ok(script.includes(`crictl inspecti -q ${i}`), script);
  });

  test("its output: missing images, a runtime that does not answer", () => {
    const ok = parseRuntimeProbe(
      `@@kubeha-runtime@@ info\n${containerdInfo(true)}\n@@kubeha-runtime@@ infoExit\n0\n@@kubeha-runtime@@ images\npresent ${images[0]}\nmissing ${images[1]}\n`,
    );
    assert.deepEqual(ok, { answers: true, cgroupDriver: "systemd", missingImages: [images[1]] });
    const down = parseRuntimeProbe(
      `@@kubeha-runtime@@ info\nE1204 connect: connection refused: dial unix /run/containerd/containerd.sock\n@@kubeha-runtime@@ infoExit\n1\n@@kubeha-runtime@@ images\nmissing ${images[0]}\n`,
    );
    assert.equal(down.answers, false);
    assert.match(down.error!, /crictl info failed: .*connection refused/);
  });
});

describe("runtime findings", () => {
  const host: HostFacts = {
    name: "master-2",
    role: "master",
    containerRuntime: "containerd 1.7.22",
    busyPorts: [],
    manifests: [],
    runtime: { answers: true, cgroupDriver: "systemd", missingImages: [] },
  };
  const cluster = { primary: { name: "master-1" }, kubeletCgroupDriver: "systemd" } as ClusterFacts;

  test("a runtime that answers with the kubelet's driver and every image: nothing", () => {
    assert.deepEqual(runtimeFindings(host, cluster), []);
  });

  test("down, another driver: errors naming the host; missing images: a warning that apply pulls them", () => {
    const down = runtimeFindings(
      { ...host, runtime: { answers: false, error: "crictl info failed: refused", missingImages: [] } },
      cluster,
    );
    assert.equal(down[0]!.severity, "error");
    assert.equal(down[0]!.host, "master-2");
    assert.match(down[0]!.message, /container runtime does not answer \(crictl info failed: refused\)/);
    const driver = runtimeFindings(
      { ...host, runtime: { answers: true, cgroupDriver: "cgroupfs", missingImages: [] } },
      cluster,
    );
    assert.match(driver[0]!.message, /uses the cgroupfs cgroup driver, but .* cgroupDriver: systemd/);
    assert.match(driver[0]!.fix!, /SystemdCgroup = true/);
    const pull = runtimeFindings(
      { ...host, runtime: { answers: true, missingImages: ["registry.k8s.io/etcd:3.5.15-0"] } },
      cluster,
    );
    assert.deepEqual(
      pull.map((f) => [f.severity, f.message]),
      [
        [
          "warning",
          "not present, apply will pull them before changing anything: registry.k8s.io/etcd:3.5.15-0",
        ],
      ],
    );
  });
});
