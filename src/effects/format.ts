// Effects as the plan shows them: one line each, a diff under a text file or a changed text field.
import { unifiedDiff } from "../render/diff.js";
import type { Effect, FileEffect } from "./types.js";

export interface EffectLayout {
  /** Base64 and PEM blocks shown as length and checksum. */
  show: (text: string) => string;
  /** The step's own host: other hosts are named. */
  host: string;
}

const indent = (lines: string, by: string) =>
  lines
    .split("\n")
    .filter(Boolean)
    .map((l) => `${by}${l}`);

function where(host: string, layout: EffectLayout): string {
  return host === layout.host ? "" : `${host}:`;
}

function fileLines(f: FileEffect, layout: EffectLayout): string[] {
  const mode = f.mode.toString(8).padStart(4, "0");
  const name = `${where(f.host, layout)}${f.path}`;
  const owner = f.owner === "root:root" ? "" : `, ${f.owner}`;
  // A plan knows whether there is a file to keep (null: none); a record of apply does not.
  const kept = f.backup && f.before !== null ? `; the file it replaces is kept as ${f.backup}` : "";
  if (f.summary || f.content === undefined) {
    const what = f.summary ?? `sha256 ${f.sha256.slice(0, 16)}…`;
    return [`    ${name} (${mode}${owner}${f.secret ? ", secret" : ""}): ${what}${kept}`];
  }
  if (f.before === f.content) return [`    ${name} (${mode}${owner}): unchanged`];
  const head = `    ${name} (${mode}${owner}): ${f.before === null ? "new file" : f.before === undefined ? "written" : "changed"}${kept}`;
  if (!f.content.includes("\n") && !f.before?.includes("\n")) return [`${head}: ${layout.show(f.content)}`];
  const diff = unifiedDiff(layout.show(f.before ?? ""), layout.show(f.content), {
    fromFile: `a${f.path}`,
    toFile: `b${f.path}`,
  });
  return [head, ...indent(diff, "      ")];
}

const INSTANT = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

function valueText(v: unknown): string {
  if (v === undefined) return "(none)";
  // A time the step takes when it runs (kube-proxy's restartedAt): a plan shows only that.
  if (typeof v === "string" && INSTANT.test(v)) return "(the time of the change)";
  return JSON.stringify(v);
}

export function effectLines(e: Effect, layout: EffectLayout): string[] {
  switch (e.kind) {
    case "file":
      return fileLines(e, layout);
    case "command":
      return [`    run on ${e.host}: ${e.command}`];
    case "wait":
      return [`    wait for ${e.condition}${e.host && e.host !== layout.host ? ` (${e.host})` : ""}`];
    case "etcd": {
      const urls = e.peerUrls?.join(",") ?? "";
      const line = {
        "add-learner": `member add ${e.member} ${urls} --learner`,
        promote: `member promote ${e.member || e.id} once in sync`,
        remove: `member remove ${e.member || e.id}`,
        "update-peer-urls": `member update ${e.member || e.id} --peer-urls=${urls}`,
      }[e.op];
      return [`    etcd: ${line}`];
    }
    case "api": {
      const rv = e.resourceVersion ? ` (resourceVersion ${e.resourceVersion})` : "";
      const out = [`    API ${e.verb} ${e.object}${rv}`];
      for (const c of e.changes) {
        if (
          typeof c.before === "string" &&
          typeof c.after === "string" &&
          (c.before + c.after).includes("\n")
        ) {
          out.push(`      ${c.field}:`);
          out.push(...indent(unifiedDiff(layout.show(c.before), layout.show(c.after)), "        "));
        } else {
          out.push(
            `      ${c.field}: ${layout.show(valueText(c.before))} → ${layout.show(valueText(c.after))}`,
          );
        }
      }
      return out;
    }
  }
}
