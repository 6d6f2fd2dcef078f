import { formatPatch, structuredPatch, type StructuredPatch } from "diff";

/**
 * Myers' diff costs O(size × edits): beyond this many changed lines it is abandoned and the change is
 * shown as one hunk replacing everything, which keeps the plan of a large rewritten file fast.
 */
const MAX_EDIT_LENGTH = 1000;

/** Everything removed, then everything added, in one hunk (the library marks missing final newlines). */
function replaceAll(from: string, to: string, before: string, after: string): StructuredPatch {
  const removed = structuredPatch(from, to, before, "", undefined, undefined, { context: 0 }).hunks[0];
  const added = structuredPatch(from, to, "", after, undefined, undefined, { context: 0 }).hunks[0];
  return {
    oldFileName: from,
    newFileName: to,
    oldHeader: undefined,
    newHeader: undefined,
    hunks: [
      {
        oldStart: removed?.oldStart ?? 0,
        oldLines: removed?.oldLines ?? 0,
        newStart: added?.newStart ?? 0,
        newLines: added?.newLines ?? 0,
        lines: [...(removed?.lines ?? []), ...(added?.lines ?? [])],
      },
    ],
  };
}

/**
 * A unified diff of two texts (`--- a`, `+++ b`, `@@` hunks with `context` lines around changes, and
 * `\ No newline at end of file` where a side lacks one); the empty string when they are equal.
 */
export function unifiedDiff(
  before: string,
  after: string,
  options: { fromFile?: string; toFile?: string; context?: number } = {},
): string {
  if (before === after) return "";
  const from = options.fromFile ?? "a";
  const to = options.toFile ?? "b";
  const patch =
    structuredPatch(from, to, before, after, undefined, undefined, {
      context: options.context ?? 3,
      maxEditLength: MAX_EDIT_LENGTH,
    }) ?? replaceAll(from, to, before, after);
  return formatPatch(patch, { includeIndex: false, includeUnderline: false, includeFileHeaders: true });
}
