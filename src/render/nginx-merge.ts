/**
 * kubeha's load balancer inside an nginx that already has a `stream {}` block. nginx allows one
 * stream block only, so kubeha's upstream and server go into a file of their own (no `stream {}`
 * around them), included from inside the existing block; the operator's servers are not touched.
 * Pure: the `nginx -T` dump and file texts in, findings and the edited text out.
 */
import { KubehaError } from "../errors.js";
import { scanNginxConf, STREAM_CONF_PATH, type NginxDirective } from "./nginx.js";

/** kubeha's upstream and server when they are merged into an existing stream {} block. */
export const MERGED_DIR = "/etc/nginx/kubeha";
export const MERGED_CONF_PATH = `${MERGED_DIR}/apiservers-stream.conf`;
/** Where the edited file's original is kept: outside every directory nginx may include by glob. */
export const MERGED_BACKUP_DIR = `${MERGED_DIR}/backup`;
export const MERGED_INCLUDE = `include ${MERGED_CONF_PATH};`;
/** The name of kubeha's upstream, in either layout. */
export const KUBEHA_UPSTREAM = "kubeha_apiservers";
const MERGED_COMMENT =
  "# added by kubeha (Kubernetes API load balancer); to undo, remove this line and the next";

/** kubeha's own files, never taken for the operator's. */
export const OWN_STREAM_FILES = [STREAM_CONF_PATH, MERGED_CONF_PATH];

/** nginx's prefix: relative include paths are relative to it. */
const PREFIX = "/etc/nginx/";

export interface DumpFile {
  file: string;
  text: string;
}

const FILE_HEADER = /^# configuration file (.+):$/gm;

/** The files of an `nginx -T` dump, each with its text as nginx read it. */
export function dumpFiles(nginxT: string): DumpFile[] {
  const headers = [...nginxT.matchAll(FILE_HEADER)];
  return headers.map((h, i) => {
    const start = (h.index ?? 0) + h[0].length + 1;
    return { file: h[1] ?? "", text: nginxT.slice(start, headers[i + 1]?.index ?? nginxT.length) };
  });
}

/** The file's directives, or why kubeha's reader cannot follow it (nginx accepts `${var}` unquoted). */
function scan(f: DumpFile): NginxDirective[] | string {
  try {
    return scanNginxConf(f.text, f.file);
  } catch (err) {
    return (err as Error).message;
  }
}

/** Where a file that kubeha cannot read seems to open a top-level stream {} block. */
const STREAM_OPENING = /^\s*stream\s*\{/m;

const lineOf = (text: string, offset: number): number => text.slice(0, offset).split("\n").length;

/** The directives inside the top-level block that starts at `index` (one level down, and deeper). */
function inside(directives: NginxDirective[], index: number): NginxDirective[] {
  const out: NginxDirective[] = [];
  for (const d of directives.slice(index + 1)) {
    if (d.depth === 0) break;
    out.push(d);
  }
  return out;
}

/** nginx's include pattern (glob(3), relative to the prefix) as a test on a file name. */
function includeMatcher(pattern: string): (file: string) => boolean {
  const abs = pattern.startsWith("/") ? pattern : PREFIX + pattern;
  const re = abs
    .replace(/[.+^${}()|\\]/g, "\\$&")
    .replace(/\*/g, "[^/]*")
    .replace(/\?/g, "[^/]");
  const regex = new RegExp(`^${re}$`);
  return (file) => regex.test(file);
}

/** Where a `listen` or `upstream` of the stream context is written. */
export interface StreamEntry {
  value: string;
  file: string;
  line: number;
}

/** A top-level stream {} block that is not kubeha's, with what its context already defines. */
export interface ForeignStream {
  file: string;
  line: number;
  /** Every `listen` of its servers, in the block and in the files it includes. */
  listens: StreamEntry[];
  upstreams: StreamEntry[];
  /** kubeha's include is already inside this block (an earlier apply). */
  merged: boolean;
  /** Why kubeha cannot read the block or a file it includes: it cannot tell where it is safe to merge. */
  unreadable?: string;
}

/**
 * The `stream {}` blocks at a file's top level in `nginx -T` output, except kubeha's own files, each
 * with the listens and upstreams of its whole context (files included from inside it followed).
 */
export function foreignStreams(nginxT: string, own = OWN_STREAM_FILES): ForeignStream[] {
  const files = dumpFiles(nginxT).filter((f) => !own.includes(f.file));
  const found: ForeignStream[] = [];
  for (const f of files) {
    const directives = scan(f);
    if (typeof directives === "string") {
      const opening = STREAM_OPENING.exec(f.text);
      if (opening) {
        const line = lineOf(f.text, opening.index + opening[0].indexOf("stream"));
        found.push({ file: f.file, line, listens: [], upstreams: [], merged: false, unreadable: directives });
      }
      continue;
    }
    directives.forEach((d, i) => {
      if (d.depth !== 0 || !d.block || d.name !== "stream") return;
      const block: ForeignStream = {
        file: f.file,
        line: lineOf(f.text, d.start),
        listens: [],
        upstreams: [],
        merged: false,
      };
      const seen = new Set<string>([f.file]);
      const collect = (file: DumpFile, body: NginxDirective[]): void => {
        for (const x of body) {
          const at = { file: file.file, line: lineOf(file.text, x.start) };
          if (x.name === "listen" && x.args[0]) block.listens.push({ value: x.args[0], ...at });
          if (x.name === "upstream" && x.block && x.args[0])
            block.upstreams.push({ value: x.args[0], ...at });
          if (x.name !== "include" || !x.args[0]) continue;
          if (x.args[0] === MERGED_CONF_PATH) block.merged = true;
          const matches = includeMatcher(x.args[0]);
          for (const g of files) {
            if (seen.has(g.file) || !matches(g.file)) continue;
            seen.add(g.file);
            const inner = scan(g);
            if (typeof inner === "string") block.unreadable ??= inner;
            else collect(g, inner);
          }
        }
      };
      collect(f, inside(directives, i));
      found.push(block);
    });
  }
  return found;
}

/** The port of a stream `listen` value (`6443`, `10.0.0.1:6443`, `[::]:6443`, `6000-7000`) covers `port`. */
export function listensOn(value: string, port: number): boolean {
  if (value.startsWith("unix:")) return false;
  const m = /(?:^|:)(\d+)(?:-(\d+))?$/.exec(value);
  if (!m) return false;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  return port >= low && port <= high;
}

export interface MergeConflict {
  why: string;
  fix: string;
}

/**
 * Why kubeha cannot put its upstream `upstream` and a server on `port` into this context, one reason
 * each, with the file and line that is in the way and what the operator can do.
 */
export function mergeConflicts(s: ForeignStream, port: number, upstream = KUBEHA_UPSTREAM): MergeConflict[] {
  const at = (e: StreamEntry) => `${e.file} line ${e.line}`;
  const unreadable: MergeConflict[] = s.unreadable
    ? [
        {
          why: `kubeha cannot read its configuration (${s.unreadable}), so it cannot tell what is in the way`,
          fix: 'quote the values with braces (e.g. "${var}") so that the file reads as plain directives, or use another host as loadBalancer',
        },
      ]
    : [];
  return [
    ...unreadable,
    ...s.listens
      .filter((l) => listensOn(l.value, port))
      .map((l) => ({
        why: `a stream server already listens on port ${port} (listen ${l.value}, ${at(l)})`,
        fix: "move that server to another port, or choose another loadBalancer.port",
      })),
    ...s.upstreams
      .filter((u) => u.value === upstream)
      .map((u) => ({
        why: `the stream {} context already has an upstream named ${upstream} (${at(u)})`,
        fix: "rename that upstream (and the proxy_pass that names it), then `nginx -t && nginx -s reload`",
      })),
  ];
}

/**
 * `text` (the file holding the top-level stream {} block) with kubeha's include as the block's first
 * directive, once; the same text when it is already there. Throws when the file has no single
 * top-level stream {} block, or kubeha's include sits anywhere else.
 */
export function includeInStreamBlock(text: string, file: string): string {
  const directives = scanNginxConf(text, file);
  const blocks = directives.flatMap((d, i) => (d.depth === 0 && d.block && d.name === "stream" ? [i] : []));
  if (blocks.length !== 1) {
    throw new KubehaError(
      `${file}: ${blocks.length ? `${blocks.length} top-level stream {} blocks` : "no top-level stream {} block"} on disk, unlike what nginx -T showed; kubeha cannot tell where its include belongs`,
    );
  }
  const index = blocks[0]!;
  const block = directives[index]!;
  const ours = (d: NginxDirective) => d.name === "include" && d.args[0] === MERGED_CONF_PATH;
  const within = inside(directives, index);
  if (within.some((d) => ours(d) && d.depth === 1)) return text;
  const stray = directives.find(ours);
  if (stray) {
    throw new KubehaError(
      `${file}: '${MERGED_INCLUDE}' is at line ${lineOf(text, stray.start)}, not directly inside the stream {} block: remove it`,
    );
  }
  return `${text.slice(0, block.end)}\n    ${MERGED_COMMENT}\n    ${MERGED_INCLUDE}${text.slice(block.end)}`;
}

/**
 * `text` without kubeha's include and the comment kubeha put above it: includeInStreamBlock undone,
 * byte for byte, while every other line stays as it is now (an operator's later edits are kept). The
 * same text when the include is not there. Throws when an include of kubeha's file is left that is
 * not a line of its own (an edit kubeha cannot undo blindly).
 */
export function excludeFromStreamBlock(text: string, file: string): string {
  // As includeInStreamBlock wrote it (also when the block's first directive was on the brace's line).
  let out = text.split(`\n    ${MERGED_COMMENT}\n    ${MERGED_INCLUDE}`).join("");
  // Moved or re-indented since: the line alone, and kubeha's comment right above it.
  const lines: string[] = [];
  for (const line of out.split("\n")) {
    if (line.trim() !== MERGED_INCLUDE) lines.push(line);
    else if (lines.at(-1)?.trim() === MERGED_COMMENT) lines.pop();
  }
  out = lines.join("\n");
  const left = scanNginxConf(out, file).find((d) => d.name === "include" && d.args[0] === MERGED_CONF_PATH);
  if (left)
    throw new KubehaError(
      `${file} line ${lineOf(out, left.start)}: kubeha's \`${MERGED_INCLUDE}\` shares its line with other directives: remove it by hand`,
    );
  return out;
}
