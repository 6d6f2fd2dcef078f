/**
 * Backups: stream a maintenance snapshot to a 0600 file, and check one.
 * An etcd snapshot stream is the bbolt database followed by the SHA-256 of the database (32 bytes);
 * `etcdctl snapshot restore` relies on that trailer, and so do we.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { constants as fsConstants, createReadStream, writeSync } from "node:fs";
import { access, mkdir, open, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { promisify } from "node:util";
import { KubehaError } from "../errors.js";
import { type EtcdTls, errorMessage, withEndpoint } from "./client.js";

const execFileP = promisify(execFile);
const checksumSize = 32;

export interface SavedSnapshot {
  file: string;
  bytes: number;
  /** SHA-256 (hex) of the whole file, for the backup manifest. */
  sha256: string;
  /** Revision in the stream's first header (the store's revision when the snapshot was taken). */
  revision?: string;
  durationMs: number;
}

export interface SnapshotOptions {
  /** Deadline for the whole stream (default 10 minutes). */
  timeoutMs?: number;
}

interface RawSnapshotChunk {
  header?: { revision?: string } | null;
  remaining_bytes?: string;
  blob?: Buffer;
}

/**
 * Stream a snapshot from `endpoint` into `filePath` (mode 0600, written to a temporary file in the
 * same directory, fsynced, then renamed). Verifies etcd's SHA-256 trailer before the rename.
 */
export async function saveSnapshot(
  endpoint: string,
  tls: EtcdTls,
  filePath: string,
  options: SnapshotOptions = {},
): Promise<SavedSnapshot> {
  const started = Date.now();
  const timeoutMs = options.timeoutMs ?? 600_000;
  await mkdir(dirname(filePath), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(filePath), `.${basename(filePath)}.part-${process.pid}`);
  const fh = await open(tmp, "wx", 0o600);
  let ok = false;
  try {
    await fh.chmod(0o600);
    // One hash for both digests: everything but the last 32 bytes is database; its digest is taken
    // from a copy before the trailer goes in, the whole file's after.
    const hash = createHash("sha256");
    let bytes = 0;
    let revision: string | undefined;
    let tail = Buffer.alloc(0);
    await withEndpoint(
      endpoint,
      tls,
      async (client) => {
        const stream = await client.rawStream<RawSnapshotChunk>("Maintenance", "snapshot", {}, timeoutMs);
        for await (const chunk of stream as AsyncIterable<RawSnapshotChunk>) {
          if (revision === undefined && chunk.header?.revision) revision = chunk.header.revision;
          const blob = chunk.blob;
          if (!blob || blob.length === 0) continue;
          // Written synchronously, chunk by chunk: a write into the page cache takes microseconds, and
          // FileHandle.write's round trip through the thread pool cost four times the CPU (measured:
          // 2900 chunks of 32 KiB, 182 ms against 46 ms), CPU the stream itself needed: the backup of
          // ~93 MB took 1.5-1.9 s instead of 2.3-2.8 s. Batching chunks into larger writes measured
          // no faster.
          writeSync(fh.fd, blob);
          bytes += blob.length;
          if (blob.length >= checksumSize) {
            hash.update(tail);
            hash.update(blob.subarray(0, blob.length - checksumSize));
            tail = Buffer.from(blob.subarray(blob.length - checksumSize));
          } else {
            const joined = Buffer.concat([tail, blob]);
            const cut = Math.max(0, joined.length - checksumSize);
            hash.update(joined.subarray(0, cut));
            tail = joined.subarray(cut);
          }
        }
      },
      { timeoutMs },
    ).catch((err: unknown) => {
      throw new KubehaError(`etcd ${endpoint}: snapshot to ${filePath}: ${errorMessage(err)}`, undefined, {
        cause: err,
      });
    });
    if (bytes <= checksumSize)
      throw new KubehaError(`etcd ${endpoint}: snapshot to ${filePath}: stream ended after ${bytes} bytes`);
    if (!hash.copy().digest().equals(tail)) {
      throw new KubehaError(
        `etcd ${endpoint}: snapshot to ${filePath}: SHA-256 trailer does not match the data (truncated or corrupt stream)`,
      );
    }
    hash.update(tail);
    await fh.sync();
    await fh.close();
    await rename(tmp, filePath);
    ok = true;
    return { file: filePath, bytes, sha256: hash.digest("hex"), revision, durationMs: Date.now() - started };
  } finally {
    if (!ok) {
      await fh.close().catch(() => undefined);
      await rm(tmp, { force: true });
    }
  }
}

export interface SnapshotCheck {
  file: string;
  bytes: number;
  sha256: string;
  /** etcd's SHA-256 trailer matches the database (false: corrupt; undefined: file has no trailer). */
  checksumOk?: boolean;
  /** The tool that read the database, when one was found. */
  tool?: "etcdutl" | "etcdctl";
  hash?: number;
  revision?: number;
  totalKey?: number;
  totalSize?: number;
}

/** Where the snapshot tools are looked for, besides PATH. */
const toolDirs = ["/usr/local/bin", "/usr/bin", "/bin"];

async function findTool(name: string): Promise<string | undefined> {
  const dirs = [...(process.env.PATH ?? "").split(":").filter(Boolean), ...toolDirs];
  for (const d of dirs) {
    const p = join(d, name);
    try {
      await access(p, fsConstants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

async function fileDigests(file: string, size: number): Promise<{ sha256: string; checksumOk?: boolean }> {
  // As in saveSnapshot: one hash, the database's digest taken from a copy before the trailer.
  const hash = createHash("sha256");
  const hasTrailer = size % 512 === checksumSize;
  const dbEnd = size - checksumSize; // first byte of the trailer
  let pos = 0;
  let dbDigest: Buffer | undefined;
  const trailer: Buffer[] = [];
  // 1 MiB reads: the default 64 KiB made it ~1400 thread-pool round trips for ~93 MB (98 ms against 52).
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>) {
    const inDb = hasTrailer ? Math.max(0, Math.min(chunk.length, dbEnd - pos)) : chunk.length;
    hash.update(chunk.subarray(0, inDb));
    if (inDb < chunk.length) {
      dbDigest ??= hash.copy().digest();
      trailer.push(chunk.subarray(inDb));
      hash.update(chunk.subarray(inDb));
    }
    pos += chunk.length;
  }
  return {
    sha256: hash.digest("hex"),
    checksumOk: hasTrailer ? (dbDigest ?? Buffer.alloc(0)).equals(Buffer.concat(trailer)) : undefined,
  };
}

/** What etcd's own tool reads in a snapshot: the bbolt database opened, its buckets walked and hashed. */
interface SnapshotStatus {
  tool: "etcdutl" | "etcdctl";
  hash: number;
  revision: number;
  totalKey: number;
  totalSize: number;
}

/**
 * `etcdutl` (or `etcdctl`) `snapshot status -w json`: proves the file is a readable etcd database
 * and gives its revision and key count. Undefined when neither tool is installed; throws when the
 * tool rejects the file.
 */
async function snapshotStatus(file: string): Promise<SnapshotStatus | undefined> {
  for (const tool of ["etcdutl", "etcdctl"] as const) {
    const path = await findTool(tool);
    if (!path) continue;
    let stdout: string;
    try {
      ({ stdout } = await execFileP(path, ["snapshot", "status", "-w", "json", file], {
        timeout: 120_000,
        env: { ...process.env, ETCDCTL_API: "3" },
      }));
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      throw new KubehaError(
        `snapshot ${file}: ${tool} snapshot status failed: ${stderr || errorMessage(err)}`,
        undefined,
        { cause: err },
      );
    }
    try {
      const s = JSON.parse(stdout) as Omit<SnapshotStatus, "tool">;
      return { tool, hash: s.hash, revision: s.revision, totalKey: s.totalKey, totalSize: s.totalSize };
    } catch (err) {
      throw new KubehaError(
        `snapshot ${file}: cannot read ${tool} output: ${stdout.slice(0, 200)}`,
        undefined,
        { cause: err },
      );
    }
  }
  return undefined;
}

/**
 * Check a snapshot file read back from disk: etcd's SHA-256 trailer, then `snapshotStatus` for its
 * hash, revision and key count. Without either tool, size and SHA-256 only. Throws when the file is
 * corrupt or the tool rejects it.
 */
export async function checkSnapshot(file: string): Promise<SnapshotCheck> {
  let size: number;
  try {
    size = (await stat(file)).size;
  } catch (err) {
    throw new KubehaError(`snapshot ${file}: ${errorMessage(err)}`, undefined, { cause: err });
  }
  // Both read the whole file: at once, the tool in its own process. A bad trailer is the error to report.
  const [digests, status] = await Promise.allSettled([fileDigests(file, size), snapshotStatus(file)]);
  if (digests.status === "rejected") throw digests.reason;
  const { sha256, checksumOk } = digests.value;
  if (checksumOk === false)
    throw new KubehaError(`snapshot ${file}: SHA-256 trailer does not match the data (corrupt)`);
  if (status.status === "rejected") throw status.reason;
  return { file, bytes: size, sha256, checksumOk, ...status.value };
}
