/**
 * A small unified line diff (LCS-based) for showing edits in the plan. Inputs are configuration
 * files of at most a few thousand lines; beyond that the diff degrades to one replace-all hunk.
 */

type Op = { kind: " " | "-" | "+"; line: string };

const MAX_CELLS = 4_000_000;

function lines(text: string): string[] {
  if (text === "") return [];
  const parts = text.split("\n");
  if (parts.at(-1) === "") parts.pop();
  return parts;
}

function editScript(a: string[], b: string[]): Op[] {
  // Common prefix and suffix first: edits here are small.
  let pre = 0;
  while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
  let suf = 0;
  while (suf < a.length - pre && suf < b.length - pre && a[a.length - 1 - suf] === b[b.length - 1 - suf])
    suf++;
  const x = a.slice(pre, a.length - suf);
  const y = b.slice(pre, b.length - suf);
  const middle: Op[] = [];
  if ((x.length + 1) * (y.length + 1) > MAX_CELLS) {
    for (const line of x) middle.push({ kind: "-", line });
    for (const line of y) middle.push({ kind: "+", line });
  } else {
    const w = y.length + 1;
    const lcs = new Uint32Array((x.length + 1) * w);
    for (let i = x.length - 1; i >= 0; i--) {
      for (let j = y.length - 1; j >= 0; j--) {
        lcs[i * w + j] =
          x[i] === y[j]
            ? (lcs[(i + 1) * w + j + 1] ?? 0) + 1
            : Math.max(lcs[(i + 1) * w + j] ?? 0, lcs[i * w + j + 1] ?? 0);
      }
    }
    let i = 0;
    let j = 0;
    while (i < x.length || j < y.length) {
      if (i < x.length && j < y.length && x[i] === y[j]) {
        middle.push({ kind: " ", line: x[i] ?? "" });
        i++;
        j++;
      } else if (
        i < x.length &&
        (j >= y.length || (lcs[(i + 1) * w + j] ?? 0) >= (lcs[i * w + j + 1] ?? 0))
      ) {
        middle.push({ kind: "-", line: x[i] ?? "" });
        i++;
      } else {
        middle.push({ kind: "+", line: y[j] ?? "" });
        j++;
      }
    }
  }
  return [
    ...a.slice(0, pre).map((line): Op => ({ kind: " ", line })),
    ...middle,
    ...a.slice(a.length - suf).map((line): Op => ({ kind: " ", line })),
  ];
}

/**
 * A unified diff of two texts (`--- a`, `+++ b`, `@@` hunks with `context` lines around changes);
 * the empty string when they are equal.
 */
export function unifiedDiff(
  before: string,
  after: string,
  options: { fromFile?: string; toFile?: string; context?: number } = {},
): string {
  if (before === after) return "";
  const context = options.context ?? 3;
  const ops = editScript(lines(before), lines(after));
  const out = [`--- ${options.fromFile ?? "a"}`, `+++ ${options.toFile ?? "b"}`];
  const changed = ops.map((op) => op.kind !== " ");
  let k = 0;
  while (k < ops.length) {
    if (!changed[k]) {
      k++;
      continue;
    }
    // A hunk: from `context` lines before this change to `context` lines after the last change that
    // is at most 2*context lines from the previous one.
    const start = Math.max(0, k - context);
    let end = k;
    let last = k;
    while (end < ops.length) {
      if (changed[end]) last = end;
      else if (end - last > 2 * context) break;
      end++;
    }
    end = Math.min(ops.length, last + context + 1);
    let aLine = 1;
    let bLine = 1;
    for (let i = 0; i < start; i++) {
      if (ops[i]?.kind !== "+") aLine++;
      if (ops[i]?.kind !== "-") bLine++;
    }
    const hunk = ops.slice(start, end);
    const aCount = hunk.filter((op) => op.kind !== "+").length;
    const bCount = hunk.filter((op) => op.kind !== "-").length;
    out.push(
      `@@ -${aCount === 0 ? aLine - 1 : aLine},${aCount} +${bCount === 0 ? bLine - 1 : bLine},${bCount} @@`,
    );
    for (const op of hunk) out.push(`${op.kind}${op.line}`);
    k = end;
  }
  return out.join("\n") + "\n";
}
