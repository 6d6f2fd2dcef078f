/**
 * The cluster as it was before kubeha's first change, read back from the oldest backup in the state
 * directory: the primary's apiserver certificate and key, and the ClusterConfiguration. Every later
 * backup (a resumed run's) was taken after some change, so only the oldest is the original.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, posix } from "node:path";
import { promisify } from "node:util";
import { InputError, KubehaError } from "../errors.js";

const execFileP = promisify(execFile);

export interface OriginalState {
  dir: string;
  apiserverCrt: string;
  apiserverKey: string;
  clusterConfiguration: string;
}

/** Backup directories are named by UTC time (20261125T135301Z): the first in sort order is the oldest. */
export function oldestBackup(names: string[]): string | undefined {
  return names.filter((n) => /^\d{8}T\d{6}Z$/.test(n)).sort()[0];
}

async function fromTar(tarFile: string, member: string): Promise<string> {
  const r = await execFileP("tar", ["-xzOf", tarFile, member], { maxBuffer: 1 << 20 }).catch(
    (err: unknown) => {
      throw new KubehaError(`${tarFile}: cannot read ${member}: ${(err as Error).message.split("\n")[0]}`);
    },
  );
  return r.stdout;
}

/**
 * The original state from `<stateDir>/backups/<oldest>/`. `certificatesDir` is the primary's (under
 * /etc/kubernetes, which the backup holds as `kubernetes/`). Refuses (exit 2) when there is no backup.
 */
export async function readOriginal(stateDir: string, certificatesDir: string): Promise<OriginalState> {
  const root = join(stateDir, "backups");
  const names = existsSync(root) ? readdirSync(root) : [];
  const oldest = oldestBackup(names.filter((n) => existsSync(join(root, n, "etc-kubernetes.tar.gz"))));
  if (!oldest) {
    throw new InputError(
      `no kubeha backup in ${root}: the rollback restores the primary's apiserver certificate and kube-system/kubeadm-config from the backup apply took before its first change`,
    );
  }
  const dir = join(root, oldest);
  const rel = posix.relative("/etc", certificatesDir);
  if (rel.startsWith("..")) {
    throw new InputError(
      `${certificatesDir} is not under /etc/kubernetes: the backup in ${dir} does not hold it`,
    );
  }
  const tar = join(dir, "etc-kubernetes.tar.gz");
  const cmFile = join(dir, "configmap-kube-system-kubeadm-config.json");
  const cm = JSON.parse(readFileSync(cmFile, "utf8")) as { data?: Record<string, string> };
  const clusterConfiguration = cm.data?.ClusterConfiguration;
  if (clusterConfiguration === undefined) throw new KubehaError(`${cmFile}: no data.ClusterConfiguration`);
  return {
    dir,
    apiserverCrt: await fromTar(tar, posix.join(rel, "apiserver.crt")),
    apiserverKey: await fromTar(tar, posix.join(rel, "apiserver.key")),
    clusterConfiguration,
  };
}
