import { timestamp } from "../ssh/files.js";

/**
 * Where a run keeps the static pod manifests it replaces on a host: outside /etc/kubernetes/manifests,
 * because the kubelet runs every non-hidden file there whatever its name, so a backup beside the
 * manifest is a second copy of the pod and which copy runs is undefined (kubernetes/kubernetes#136962).
 * kubeadm keeps its own manifest backups under /etc/kubernetes/tmp too.
 */
const ROOT = "/etc/kubernetes/tmp";

/** Every run's manifest backups, for advice; names sort by time. */
export const MANIFEST_BACKUPS = `${ROOT}/kubeha-*`;

export function manifestBackupDir(runStarted: Date): string {
  return `${ROOT}/kubeha-${timestamp(runStarted)}`;
}
