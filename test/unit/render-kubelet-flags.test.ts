import { strict as assert } from "node:assert";
import { describe, it } from "node:test";
import { kubeletFileFor } from "../../src/render/kubelet-flags.js";

const primary = { address: "10.0.0.11" };
const node = { name: "master-2", address: "10.0.0.12" };

describe("kubeletFileFor", () => {
  it("gives the new node its own --node-ip", () => {
    const env = `KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock --node-ip=10.0.0.11"\n`;
    assert.equal(
      kubeletFileFor(env, primary, node),
      `KUBELET_KUBEADM_ARGS="--container-runtime-endpoint=unix:///run/containerd/containerd.sock --node-ip=10.0.0.12"\n`,
    );
  });

  it("names the new node in --hostname-override, in either flag form", () => {
    assert.equal(
      kubeletFileFor(
        `KUBELET_KUBEADM_ARGS="--hostname-override=master-1 --pod-infra-container-image=pause:3.10"`,
        primary,
        node,
      ),
      `KUBELET_KUBEADM_ARGS="--hostname-override=master-2 --pod-infra-container-image=pause:3.10"`,
    );
    assert.equal(
      kubeletFileFor(
        `KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.11 --hostname-override master-1"`,
        primary,
        node,
      ),
      `KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.12 --hostname-override master-2"`,
    );
  });

  it("replaces only the primary's address of a dual-stack pair", () => {
    assert.equal(
      kubeletFileFor(`ARGS="--node-ip=10.0.0.11,fd00::11"`, primary, node),
      `ARGS="--node-ip=10.0.0.12,fd00::11"`,
    );
  });

  it("leaves other addresses and files without these flags as they are", () => {
    const env = `KUBELET_KUBEADM_ARGS="--node-ip=10.0.0.110"\n`;
    assert.equal(kubeletFileFor(env, primary, node), env);
    const config = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";
    assert.equal(kubeletFileFor(config, primary, node), config);
  });
});
