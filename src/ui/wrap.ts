import { createHash } from "node:crypto";

/** The width assumed when the output is not a terminal (a file, a pipe) or the terminal does not say. */
export const DEFAULT_WIDTH = 80;

/** Columns of the terminal `stream` writes to, or DEFAULT_WIDTH. */
export function terminalWidth(stream: { columns?: number } = process.stdout): number {
  return stream.columns && stream.columns > 0 ? stream.columns : DEFAULT_WIDTH;
}

/**
 * One line cut at spaces into lines of at most `width` characters. Continuation lines hang two
 * spaces under the line's own indentation, so a wrapped list item or diff line still reads as one;
 * a word longer than a line (a URL, a flag with its value) is cut where it must be.
 */
export function wrapLine(line: string, width: number): string[] {
  if (line.length <= width) return [line];
  const half = Math.max(1, Math.floor(width / 2));
  const lead = /^ */.exec(line)![0].slice(0, half);
  const hang = " ".repeat(Math.min(lead.length + 2, half));
  const out: string[] = [];
  let cur = lead;
  let empty = true;
  const flush = (): void => {
    out.push(cur.trimEnd());
    cur = hang;
    empty = true;
  };
  for (const [, gap, token] of line.trimStart().matchAll(/( *)(\S+)/g)) {
    let word = token!;
    const sep = empty ? "" : gap!;
    if (!empty && cur.length + sep.length + word.length > width) {
      // A word that fits on a line of its own goes there; a longer one fills this line first.
      if (hang.length + word.length <= width) flush();
    }
    if (!empty) cur += gap;
    while (cur.length + word.length > width) {
      const room = width - cur.length;
      if (room <= 0) {
        flush();
        continue;
      }
      out.push(cur + word.slice(0, room));
      word = word.slice(room);
      cur = hang;
      empty = true;
    }
    if (word) {
      cur += word;
      empty = false;
    }
  }
  if (!empty) out.push(cur);
  return out;
}

/** Every line of `text` wrapped at `width` (Infinity: unchanged). */
export function wrapText(text: string, width: number): string {
  if (!Number.isFinite(width)) return text;
  return text
    .split("\n")
    .flatMap((l) => wrapLine(l, width))
    .join("\n");
}

/** `text` as written to `stream`: wrapped at its width on a terminal, as it is in a file or a pipe. */
export function forStream(text: string, stream: { isTTY?: boolean; columns?: number }): string {
  return stream.isTTY ? wrapText(text, terminalWidth(stream)) : text;
}

function sha256(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 12);
}

const PEM = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----\n?/g;
/** A run of base64 long enough to be data, not a word: mixed case rules out hex digests and names. */
const BASE64 = /[A-Za-z0-9+/]{60,}={0,2}/g;

/**
 * Key material and base64 as a reader can compare it without reading it: a PEM block becomes
 * "<CERTIFICATE: 1147 chars, sha256 3f2a9c1b0d4e>" (of the block's text), a base64 run
 * "<base64: 1468 bytes, sha256 ...>" (of the bytes it encodes, as `base64 -d | sha256sum` shows).
 * Private keys never reach here (redact() and secret files), but would keep only their length.
 */
export function elide(text: string): string {
  return text
    .replace(PEM, (block, label: string) =>
      label.includes("PRIVATE KEY")
        ? `<${label}: ${block.length} chars>`
        : `<${label}: ${block.length} chars, sha256 ${sha256(block)}>${block.endsWith("\n") ? "\n" : ""}`,
    )
    .replace(BASE64, (run) => {
      if (!/[A-Z]/.test(run) || !/[a-z]/.test(run)) return run;
      const bytes = Buffer.from(run, "base64");
      return `<base64: ${bytes.length} bytes, sha256 ${sha256(bytes)}>`;
    });
}
