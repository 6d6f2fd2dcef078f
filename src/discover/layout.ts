/**
 * kubeadm's file layout on a control-plane node. kubeha writes this layout only; discovery reads the
 * primary's certificates directory (from the apiserver's --client-ca-file) and refuses another one
 * at preflight, so what kubeha reads and what it writes cannot be in two places.
 */
import type { ClusterFacts, Finding } from "./types.js";

export const KUBEADM_LAYOUT = {
  root: "/etc/kubernetes",
  certificatesDir: "/etc/kubernetes/pki",
  manifestsDir: "/etc/kubernetes/manifests",
  kubeletConf: "/etc/kubernetes/kubelet.conf",
  adminConf: "/etc/kubernetes/admin.conf",
} as const;

/** A certificates directory other than kubeadm's default: the new masters' files would go elsewhere. */
export function layoutFindings(c: Pick<ClusterFacts, "primary" | "certificatesDir">): Finding[] {
  if (c.certificatesDir.replace(/\/+$/, "") === KUBEADM_LAYOUT.certificatesDir) return [];
  return [
    {
      severity: "error",
      host: c.primary.name,
      message: `certificatesDir is ${c.certificatesDir} (from kube-apiserver's --client-ca-file), not ${KUBEADM_LAYOUT.certificatesDir}: kubeha writes the new masters' certificates only to kubeadm's default directory`,
      fix: `move the certificates to ${KUBEADM_LAYOUT.certificatesDir} (kubeadm's default), or join the new masters with kubeadm join --control-plane`,
    },
  ];
}
