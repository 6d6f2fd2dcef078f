// The real flavour's primary: real `kubeadm init`, phase by phase, inside the primary's namespaces.
// Whatever kubeadm writes is the fixture; none of the primary's PKI, kubeconfigs or manifests comes
// from our code. Workers get what `kubeadm kubeconfig user` issues for system:node:<name>.
import { existsSync } from "node:fs";
import { copyFile, mkdir, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import type { ClusterSpec } from "./fixture-spec.js";
import type { ExecResult } from "./proc.js";

/** The release scripts/build-kubernetes.sh builds (test/lab/k8s/kubernetes/go.mod). */
export const REAL_VERSION = "1.37.2";

type HostExec = (argv: string[]) => Promise<ExecResult>;

/** Where scripts/build-kubernetes.sh puts the binaries. */
export function labCache(): string {
  return process.env["KUBEHA_LAB_CACHE"] ?? join(homedir(), ".cache/kubeha-lab");
}

/** The cached Kubernetes bin directory; throws naming the build script when it is absent. */
export function realBinaries(): string {
  const dir = join(labCache(), `kubernetes-v${REAL_VERSION}`, "bin");
  if (!existsSync(join(dir, "kubeadm")))
    throw new Error(`${dir}/kubeadm is missing: run scripts/build-kubernetes.sh`);
  return dir;
}

/** kubeadm's configuration for the primary: pinned version (no lookup on the internet), lab addresses. */
export function kubeadmConfig(spec: ClusterSpec): string {
  return `apiVersion: kubeadm.k8s.io/v1beta4
kind: InitConfiguration
localAPIEndpoint:
  advertiseAddress: ${spec.primary.address}
  bindPort: 6443
nodeRegistration:
  name: ${spec.primary.name}
  criSocket: unix:///run/containerd/containerd.sock
---
apiVersion: kubeadm.k8s.io/v1beta4
kind: ClusterConfiguration
kubernetesVersion: v${spec.version}
clusterName: kubernetes
networking:
  serviceSubnet: ${spec.serviceCidr}
  podSubnet: ${spec.podCidr}
  dnsDomain: ${spec.domain}
`;
}

/**
 * Phases that only write files; the kubelet stand-in then runs what the manifests name. Skipped:
 * preflight (checks a container runtime), kubelet-start (the stand-in needs no config),
 * wait-control-plane (polls the kubelet's healthz port; the lab waits on /readyz itself).
 */
const FILE_PHASES = ["certs all", "kubeconfig all", "etcd local", "control-plane all"];

/** Phases that talk to the running apiserver. */
const API_PHASES = [
  "upload-config all",
  "mark-control-plane",
  "bootstrap-token",
  "kubelet-finalize all",
  "addon all",
];

async function kubeadm(exec: HostExec, bin: string, configFile: string, phases: string[]): Promise<void> {
  for (const phase of phases) {
    const r = await exec([
      join(bin, "kubeadm"),
      "init",
      "phase",
      ...phase.split(" "),
      "--config",
      configFile,
    ]);
    if (r.code !== 0) throw new Error(`kubeadm init phase ${phase}: ${(r.stderr || r.stdout).trim()}`);
  }
}

/** Writes kubeadm's config and runs the file-writing phases in the primary. */
export async function initPrimary(
  spec: ClusterSpec,
  exec: HostExec,
  bin: string,
  configFile: string,
): Promise<void> {
  await writeFile(configFile, kubeadmConfig(spec), { mode: 0o600 });
  await kubeadm(exec, bin, configFile, FILE_PHASES);
}

export async function runApiPhases(exec: HostExec, bin: string, configFile: string): Promise<void> {
  await kubeadm(exec, bin, configFile, API_PHASES);
}

/** Each worker's pki/ca.crt and a kubelet.conf for system:node:<name>, issued by kubeadm on the primary. */
export async function initWorkers(
  exec: HostExec,
  bin: string,
  configFile: string,
  workers: { name: string; etcKubernetes: string }[],
  caCrt: string,
): Promise<void> {
  for (const w of workers) {
    const r = await exec([
      join(bin, "kubeadm"),
      "kubeconfig",
      "user",
      "--config",
      configFile,
      "--client-name",
      `system:node:${w.name}`,
      "--org",
      "system:nodes",
    ]);
    if (r.code !== 0) throw new Error(`kubeadm kubeconfig user for ${w.name}: ${r.stderr.trim()}`);
    await mkdir(join(w.etcKubernetes, "pki"), { recursive: true });
    await copyFile(caCrt, join(w.etcKubernetes, "pki/ca.crt"));
    await writeFile(join(w.etcKubernetes, "kubelet.conf"), r.stdout, { mode: 0o600 });
  }
}
