import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { KubehaError, wrap } from "../errors.js";
import { checkSnapshot, saveSnapshot } from "../etcd/snapshot.js";
import { objectPath } from "../kube/client.js";
import type { RunContext } from "../engine/context.js";
import { MANIFEST_BACKUPS } from "./manifests.js";

const execFileP = promisify(execFile);

export const BACKED_UP_CONFIGMAPS = [
  ["kube-system", "kubeadm-config"],
  ["kube-system", "kube-proxy"],
  ["kube-public", "cluster-info"],
] as const;

export interface BackupReport {
  dir: string;
  files: { name: string; bytes: number; sha256: string; check: string }[];
  restore: string[];
}

/** A directory name that sorts by time and says when: 20261125T135301Z. */
export function backupDirName(now = new Date()): string {
  return now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

async function writePrivate(path: string, data: string | Buffer): Promise<{ bytes: number; sha256: string }> {
  await writeFile(path, data, { mode: 0o600, flag: "wx" });
  const buf = typeof data === "string" ? Buffer.from(data) : data;
  return { bytes: buf.length, sha256: createHash("sha256").update(buf).digest("hex") };
}

async function backupEtcd(ctx: RunContext, file: string): Promise<BackupReport["files"][number]> {
  const primary = ctx.inventory.primary;
  const endpoint = await ctx.etcdEndpoint(primary.name);
  const saved = await saveSnapshot(endpoint, ctx.access.etcdTls, file).catch((err: unknown) => {
    throw wrap(`backup: etcd snapshot from ${primary.name}`, err);
  });
  // saveSnapshot verified etcd's SHA-256 trailer on the stream; the file is read back (hashed while
  // etcd's own tool opens and walks the database) to prove it holds exactly those bytes.
  const check = await checkSnapshot(file);
  if (check.sha256 !== saved.sha256 || check.bytes !== saved.bytes) {
    throw new KubehaError(`backup: ${file} on disk differs from the snapshot etcd sent`);
  }
  return {
    name: "etcd-snapshot.db",
    bytes: saved.bytes,
    sha256: saved.sha256,
    check: check.tool
      ? `SHA-256 trailer ok, ${check.tool} snapshot status: revision ${check.revision}, ${check.totalKey} keys`
      : "SHA-256 trailer ok (no etcdutl or etcdctl here to open the database)",
  };
}

async function backupEtcKubernetes(ctx: RunContext, tarFile: string): Promise<BackupReport["files"][number]> {
  // base64 keeps the archive intact through a text channel; /etc/kubernetes is small.
  const b64 = await ctx
    .host(ctx.inventory.primary.name)
    .run("tar -C /etc -czf - kubernetes | base64 -w0", { timeoutMs: 120_000 });
  const t = await writePrivate(tarFile, Buffer.from(b64.trim(), "base64"));
  const listing = await execFileP("tar", ["-tzf", tarFile]).catch((err: unknown) => {
    throw new KubehaError(`backup: ${tarFile} is not a readable archive: ${(err as Error).message}`);
  });
  if (!listing.stdout.includes("kubernetes/pki/ca.crt")) {
    throw new KubehaError(`backup: ${tarFile} lacks kubernetes/pki/ca.crt`);
  }
  const entries = listing.stdout.split("\n").filter(Boolean).length;
  return { name: "etc-kubernetes.tar.gz", ...t, check: `tar lists ${entries} entries` };
}

async function backupConfigMaps(ctx: RunContext, dir: string): Promise<BackupReport["files"]> {
  const kube = await ctx.kube(ctx.inventory.primary.name);
  return Promise.all(
    BACKED_UP_CONFIGMAPS.map(async ([ns, name]) => {
      const obj = await kube.get(objectPath("configmaps", name, ns));
      const file = `configmap-${ns}-${name}.json`;
      const w = await writePrivate(join(dir, file), JSON.stringify(obj, null, 2) + "\n");
      return { name: file, ...w, check: `resourceVersion ${obj.metadata.resourceVersion}` };
    }),
  );
}

/**
 * Before any change: an etcd snapshot streamed from the primary, a copy of its /etc/kubernetes, and
 * the ConfigMaps kubeha edits, on the operator's machine, readable only by its owner, each checked.
 */
export async function takeBackup(ctx: RunContext, dir: string): Promise<BackupReport> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const primary = ctx.inventory.primary;
  const files: BackupReport["files"] = [];

  const snapshotFile = join(dir, "etcd-snapshot.db");
  const tarFile = join(dir, "etc-kubernetes.tar.gz");
  // The three parts are independent: taken at once, over the same SSH connection.
  const [snapshot, tarball, configMaps] = await Promise.all([
    backupEtcd(ctx, snapshotFile),
    backupEtcKubernetes(ctx, tarFile),
    backupConfigMaps(ctx, dir),
  ]);
  files.push(snapshot, tarball, ...configMaps);

  const restore = [
    `etcd: stop the control plane on every master, then on the primary:`,
    `  etcdutl snapshot restore (etcd 3.5+; on 3.4: ETCDCTL_API=3 etcdctl snapshot restore) ${snapshotFile} --data-dir /var/lib/etcd-restored --name ${primary.name} --initial-cluster ${primary.name}=https://${primary.address}:2380 --initial-advertise-peer-urls https://${primary.address}:2380`,
    `  and point the etcd manifest's hostPath at /var/lib/etcd-restored`,
    `/etc/kubernetes: tar -C /etc -xzf ${tarFile} (on ${primary.name})`,
    `static pod manifests kubeha replaces: in ${MANIFEST_BACKUPS}/ on that host; copy one back over the manifest of the same name (never leave a second copy in /etc/kubernetes/manifests: the kubelet runs every file there)`,
    `ConfigMaps: kubectl replace -f <file> after removing metadata.resourceVersion`,
  ];
  await writePrivate(join(dir, "RESTORE.txt"), restore.join("\n") + "\n");
  await writePrivate(
    join(dir, "MANIFEST.json"),
    JSON.stringify({ created: new Date().toISOString(), files }, null, 2),
  );
  return { dir, files, restore };
}
