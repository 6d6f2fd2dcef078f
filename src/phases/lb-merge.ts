/**
 * The load balancer's files when the LB host's nginx already has a stream {} block of the operator's
 * (nginx allows one only): kubeha's upstream and server in a file of their own, included from inside
 * that block. The block's file is edited where it really is (a symlink is followed), and its original
 * is kept outside every directory nginx may include by glob.
 */
import { KubehaError } from "../errors.js";
import {
  excludeFromStreamBlock,
  foreignStreams,
  includeInStreamBlock,
  MERGED_CONF_PATH,
  MERGED_INCLUDE,
  mergeConflicts,
} from "../render/nginx-merge.js";
import { shellQuote } from "../ssh/shell-quote.js";
import type { Host } from "../ssh/types.js";

/** The two files the load-balancer step writes, before and after, and why it cannot when it cannot. */
export interface StreamFiles {
  streamConf: { path: string; before?: string; after: string };
  nginxConf: { path: string; before: string; after: string };
  /** Set when nginx cannot be configured as it is (no stream module, a stream {} in the way, ...). */
  problem?: string;
  moduleNote: string;
  /** kubeha's servers go inside the operator's stream {} block (nginxConf is that block's file). */
  merged?: boolean;
}

/**
 * The files for an nginx whose `nginx -T` shows a stream {} block that is not kubeha's; undefined
 * when there is none (or nginx -T fails: the step's own `nginx -t` check refuses that).
 * `servers` is kubeha's upstream and server without a stream {} around them.
 */
export async function planStreamMerge(
  host: Host,
  servers: string,
  port: number,
): Promise<StreamFiles | undefined> {
  const t = await host.exec("nginx -T 2>&1");
  if (t.code !== 0) return undefined;
  const block = foreignStreams(t.stdout)[0]; // nginx -T passed: there is one at most
  if (!block) return undefined;
  const real = (await host.exec(shellQuote(["readlink", "-e", block.file]))).stdout.trim() || block.file;
  const before = (await host.readFile(real))?.toString("utf8") ?? "";
  const files: StreamFiles = {
    streamConf: {
      path: MERGED_CONF_PATH,
      before: (await host.readFile(MERGED_CONF_PATH))?.toString("utf8"),
      after: servers,
    },
    nginxConf: { path: real, before, after: before },
    moduleNote: `nginx already has a stream {} block (${block.file} line ${block.line}): kubeha adds \`${MERGED_INCLUDE}\` inside it and leaves its other servers as they are`,
    merged: true,
  };
  try {
    const conflicts = mergeConflicts(block, port);
    if (conflicts.length) throw new KubehaError(`${host.name}: ${conflicts.map((c) => c.why).join("; ")}`);
    files.nginxConf.after = includeInStreamBlock(before, `${host.name}:${real}`);
  } catch (err) {
    files.problem = (err as Error).message;
  }
  return files;
}

/** The operator's file holding kubeha's include (found with `nginx -T`), before and after taking it out. */
export interface StreamUnmerge {
  path: string;
  before: string;
  after: string;
}

/**
 * What undoes the merge on this LB host: the file (a symlink followed) whose stream {} block includes
 * kubeha's servers, with the include and its comment taken out; undefined when no block includes them.
 */
export async function planStreamUnmerge(host: Host): Promise<StreamUnmerge | undefined> {
  const t = await host.exec("nginx -T 2>&1");
  if (t.code !== 0) return undefined;
  const block = foreignStreams(t.stdout).find((b) => b.merged);
  if (!block) return undefined;
  const real = (await host.exec(shellQuote(["readlink", "-e", block.file]))).stdout.trim() || block.file;
  const before = (await host.readFile(real))?.toString("utf8") ?? "";
  return { path: real, before, after: excludeFromStreamBlock(before, `${host.name}:${real}`) };
}
