// Writes what `kubeadm init` / `kubeadm join` leave on disk: the primary's /etc/kubernetes and
// kubelet credentials, and each worker's CA and kubelet.conf.
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  genServiceAccountKeys,
  installKubeletCert,
  issueAll,
  kubeconfigCerts,
  kubeletCert,
  primaryCerts,
} from "./fixture-pki.js";
import { writeKubeconfig } from "./fixture-kubeconfig.js";
import { manifests } from "./fixture-manifests.js";
import type { ClusterSpec } from "./fixture-spec.js";

/** Where a host's /etc/kubernetes and /var/lib/kubelet live in the lab dir. */
export interface NodeDirs {
  name: string;
  etcKubernetes: string;
  varLibKubelet: string;
}

const KUBELET_PEM = "/var/lib/kubelet/pki/kubelet-client-current.pem";

export async function writeClusterFiles(
  spec: ClusterSpec,
  primary: NodeDirs,
  workers: NodeDirs[],
  scratch: string,
): Promise<void> {
  await mkdir(scratch, { recursive: true });
  const pki = join(primary.etcKubernetes, "pki");
  const ca = join(pki, "ca");
  const server = `https://${spec.primary.address}:6443`;
  const caCrt = `${ca}.crt`;
  const kcCerts = kubeconfigCerts(spec, primary.etcKubernetes, scratch);
  const nodes = [primary, ...workers];
  await Promise.all([
    genServiceAccountKeys(pki),
    issueAll([
      ...primaryCerts(spec, primary.etcKubernetes),
      ...kcCerts,
      ...nodes.map((n) => kubeletCert(n.name, scratch, ca)),
    ]),
  ]);

  // kubeadm's own kubeconfigs embed their client certificates.
  const users: Record<string, string> = {
    admin: "kubernetes-admin",
    "super-admin": "kubernetes-super-admin",
    "controller-manager": "system:kube-controller-manager",
    scheduler: "system:kube-scheduler",
  };
  await Promise.all(
    kcCerts.map((c) => {
      const file = c.base.slice(scratch.length + 1);
      const user = users[file] ?? file;
      return writeKubeconfig(join(primary.etcKubernetes, `${file}.conf`), {
        server,
        caCrt,
        userName: user,
        contextName: `${user}@kubernetes`,
        user: { kind: "embedded", cert: `${c.base}.crt`, key: `${c.base}.key` },
      });
    }),
  );
  // The kubelet's kubeconfig points at its rotated certificate; joined workers use kubeadm's bootstrap names.
  for (const n of nodes) {
    const joined = n !== primary;
    await installKubeletCert(n.name, scratch, n.varLibKubelet);
    await mkdir(join(n.etcKubernetes, "pki"), { recursive: true });
    if (joined) await copyFile(caCrt, join(n.etcKubernetes, "pki/ca.crt"));
    await writeKubeconfig(join(n.etcKubernetes, "kubelet.conf"), {
      server,
      caCrt,
      userName: joined ? "default-auth" : `system:node:${n.name}`,
      contextName: joined ? "default" : `system:node:${n.name}@kubernetes`,
      user: { kind: "files", cert: KUBELET_PEM, key: KUBELET_PEM },
    });
  }
  await mkdir(join(primary.etcKubernetes, "manifests"), { recursive: true });
  await Promise.all(
    Object.entries(manifests(spec)).map(([f, text]) =>
      writeFile(join(primary.etcKubernetes, "manifests", f), text, { mode: 0o600 }),
    ),
  );
  if (spec.externalCa) await rm(`${ca}.key`);
}
