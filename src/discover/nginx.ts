/**
 * The LB's nginx as it really runs: `nginx -T` prints every configuration file it reads (includes
 * resolved), each after a `# configuration file <path>:` line. A stream {} block of the operator's is
 * where kubeha's servers go (src/render/nginx-merge.ts); files that nginx does not read yet, but
 * kubeha's include of stream.d/*.conf would, are what `nginx -T` cannot show.
 */
import { STREAM_DIR } from "../render/nginx.js";
import { dumpFiles, OWN_STREAM_FILES } from "../render/nginx-merge.js";

/** The shell that lists the files kubeha's top-level `include stream.d/*.conf` would read. */
export const STREAM_DIR_LISTING = `ls -1d ${STREAM_DIR}/*.conf 2>/dev/null`;

/**
 * The files of `listing` (STREAM_DIR_LISTING's output) that nginx does not read now (not in the
 * `nginx -T` dump) and that are not kubeha's: kubeha's include would start serving them.
 */
export function dormantStreamFiles(nginxT: string, listing: string, own = OWN_STREAM_FILES): string[] {
  const read = new Set(dumpFiles(nginxT).map((f) => f.file));
  return listing
    .split("\n")
    .map((l) => l.trim())
    .filter((f) => f.startsWith("/") && !read.has(f) && !own.includes(f));
}

/**
 * What a failed `nginx -T` complains about: its [emerg]/[alert]/[crit] lines (as `nginx: [emerg] ...`
 * or, once the error log is set up, `<time> [emerg] <pid>#<tid>: ...`), else its last `nginx:` lines.
 */
export function nginxTestError(nginxT: string): string {
  const lines = nginxT.split("\n");
  const level = /^.*?\[(emerg|alert|crit)\]\s*(\d+#\d+:\s*)?/;
  const why = lines.filter((l) => level.test(l)).map((l) => l.replace(level, "[$1] "));
  return (why.length ? why : lines.filter((l) => l.startsWith("nginx: "))).slice(-2).join(" ");
}
