import { randomBytes } from "node:crypto";
import { basename } from "node:path";
import type { SFTPWrapper } from "ssh2";
import { KubehaError } from "../errors.js";
import type { RawResult } from "./exec.js";
import type { FileWrite, WriteOptions } from "./types.js";

/** What file transfer needs from a connection: commands (as root when `elevated`) and its SFTP session. */
export interface FileChannel {
  /** "host master-2 (10.0.0.12:22)" */
  label: string;
  /** True when root access goes through sudo, so SFTP (which runs as the SSH user) cannot read or place files. */
  elevated: boolean;
  exec(argv: string[]): Promise<RawResult>;
  sftp(): Promise<SFTPWrapper>;
}

// `cat` of a missing file and of an unreadable one both exit 1: tell them apart with a distinct code.
const MISSING = 66;
const readScript = `[ -e "$1" ] || exit ${MISSING}; exec cat -- "$1"`;

/** The file's bytes, or undefined when it does not exist. Through `sudo cat` when not logged in as root. */
export async function readRemoteFile(ch: FileChannel, path: string): Promise<Buffer | undefined> {
  if (ch.elevated) {
    const r = await ch.exec(["sh", "-c", readScript, "sh", path]);
    if (r.code === MISSING) return undefined;
    if (r.code !== 0) throw new KubehaError(`${ch.label}: read ${path}: ${tail(r.stderr)}`);
    return r.stdout;
  }
  const sftp = await ch.sftp();
  return new Promise((resolve, reject) =>
    sftp.readFile(path, (err: (Error & { code?: number }) | null | undefined, data: Buffer) => {
      // SFTP status 2 is NO_SUCH_FILE.
      if (err?.code === 2) resolve(undefined);
      else if (err) reject(new KubehaError(`${ch.label}: read ${path}: ${err.message}`));
      else resolve(data);
    }),
  );
}

// Any number of files in one command: per file "-" when missing, else "+", its base64 (wrapped, so
// any base64 will do) and "." (not in base64's alphabet). The first unreadable file ends it (set -e).
const readManyScript = `set -e
for f; do
  if [ -e "$f" ]; then echo +; base64 < "$f"; echo .; else echo -; fi
done`;

/**
 * Several files, each as readRemoteFile reads it: through sudo one command for all (a certificate
 * step reads twenty-odd files; one sudo each cost a process and a round trip apiece), by SFTP at once.
 */
export async function readRemoteFiles(
  ch: FileChannel,
  paths: string[],
): Promise<Map<string, Buffer | undefined>> {
  if (!ch.elevated || paths.length < 2)
    return new Map(await Promise.all(paths.map(async (p) => [p, await readRemoteFile(ch, p)] as const)));
  const r = await ch.exec(["sh", "-c", readManyScript, "sh", ...paths]);
  if (r.code !== 0) throw new KubehaError(`${ch.label}: read ${paths.length} files: ${tail(r.stderr)}`);
  const lines = r.stdout.toString("latin1").split("\n");
  const out = new Map<string, Buffer | undefined>();
  let at = 0;
  for (const path of paths) {
    const mark = lines[at++];
    if (mark === "-") {
      out.set(path, undefined);
      continue;
    }
    const end = lines.indexOf(".", at);
    if (mark !== "+" || end < 0) throw new KubehaError(`${ch.label}: read ${path}: unexpected output`);
    out.set(path, Buffer.from(lines.slice(at, end).join(""), "base64"));
    at = end + 1;
  }
  return out;
}

// Runs as root, once for any number of files: arguments in fives (staging, target, mode, owner,
// backup). Each new content is copied next to its target (umask 077: never readable by others on the
// way), given its owner and mode, and renamed over the target: readers see the old file or the new one.
const installScript = `set -eu
stagings="" i=0
for a in "$@"; do [ $((i % 5)) -ne 0 ] || stagings="$stagings $a"; i=$((i + 1)); done
tmp=""
trap 'rm -f -- $stagings \${tmp:+"$tmp"}' EXIT
u=$(umask)
while [ $# -gt 0 ]; do
  staging=$1 target=$2 mode=$3 owner=$4 backup=$5
  shift 5
  dir=\${target%/*}
  tmp="\${dir:-/}/.\${target##*/}.kubeha-tmp.$$"
  umask "$u"
  mkdir -p -- "\${dir:-/}"
  umask 077
  cp -- "$staging" "$tmp"
  chown -- "$owner" "$tmp"
  chmod -- "$mode" "$tmp"
  # The first copy is kept: the file as it was before this run, not an earlier write of the same run.
  if [ -n "$backup" ] && [ -e "$target" ] && [ ! -e "$backup" ]; then
    mkdir -p -- "\${backup%/*}"
    cp -p -- "$target" "$backup"
  fi
  mv -f -- "$tmp" "$target"
  tmp=""
done`;

/**
 * Writes a file atomically with its mode and owner (default 0644 root:root), creating parent directories;
 * with `backup`, the replaced file is kept (mode and owner preserved) as `<path>.kubeha-<UTC timestamp>.bak`,
 * or as `<dir>/<file name>` with `backup: { dir }`. The temp file is a dot-file: nothing that reads
 * every non-hidden file of the directory (the kubelet's static pods) ever sees it.
 */
export function writeRemoteFile(
  ch: FileChannel,
  path: string,
  data: string | Buffer,
  options: WriteOptions = {},
  now: Date = new Date(),
): Promise<void> {
  return writeRemoteFiles(ch, [{ path, data, options }], now);
}

/**
 * Several files, each written as `writeRemoteFile` does, uploaded together and installed by one
 * command: a certificate step's twenty-odd files cost one remote shell, not one each.
 */
export async function writeRemoteFiles(
  ch: FileChannel,
  files: FileWrite[],
  now: Date = new Date(),
): Promise<void> {
  if (!files.length) return;
  const sftp = await ch.sftp();
  const args: string[] = [];
  // Uploaded by the SSH user, readable only by it; the root-side script removes them.
  const uploads = files.map(async ({ path, data, options = {} }) => {
    const staging = `/tmp/.kubeha-upload-${randomBytes(8).toString("hex")}`;
    await new Promise<void>((resolve, reject) =>
      sftp.writeFile(staging, data, { mode: 0o600, flag: "wx" }, (err) =>
        err
          ? reject(new KubehaError(`${ch.label}: write ${path}: upload to ${staging} failed: ${err.message}`))
          : resolve(),
      ),
    );
    return [
      staging,
      path,
      (options.mode ?? 0o644).toString(8),
      options.owner ?? "root:root",
      backupPath(path, options.backup, now),
    ];
  });
  const settled = await Promise.allSettled(uploads);
  for (const r of settled) if (r.status === "fulfilled") args.push(...r.value);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    // Nothing installed: the uploads that did arrive are removed again.
    const staged = args.filter((_, i) => i % 5 === 0);
    if (staged.length) await ch.exec(["rm", "-f", "--", ...staged]);
    throw failed.reason;
  }
  const r = await ch.exec(["sh", "-c", installScript, "sh", ...args]);
  if (r.code !== 0) {
    const what =
      files.length === 1 ? files[0]!.path : `${files.length} files (${files.map((f) => f.path).join(", ")})`;
    throw new KubehaError(`${ch.label}: write ${what}: ${tail(r.stderr)}`);
  }
}

/** Where `backup` keeps the file at `path` ("" for no backup). */
function backupPath(path: string, backup: WriteOptions["backup"], now: Date): string {
  if (!backup) return "";
  if (backup === true) return `${path}.kubeha-${timestamp(now)}.bak`;
  return `${backup.dir.replace(/\/+$/, "")}/${basename(path)}`;
}

/** 20240131T235959Z: sortable, and no characters a shell or a file system minds. */
export function timestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** The last lines of stderr, enough to see why a command failed without flooding the message. */
export function tail(stderr: Buffer | string, lines = 5): string {
  const text = stderr.toString().trim();
  return text ? text.split("\n").slice(-lines).join(" | ") : "(no error output)";
}
