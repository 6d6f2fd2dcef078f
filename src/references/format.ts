/** The references report as an operator reads it: a summary line, then one entry per reference. */
import { plural } from "../ui/plural.js";
import { wrapText } from "../ui/wrap.js";
import { hostPort } from "../render/net.js";
import type { Target } from "./match.js";
import type { Reference } from "./scan.js";

export interface Report {
  target: Target;
  references: Reference[];
  /** What could not be scanned, and why ("Secrets: HTTP 403", "worker-2: unreachable"). */
  skipped: string[];
}

function targetText(t: Target): string {
  return [...t.addresses, ...t.names]
    .filter((h, i, all) => all.findIndex((x) => x.toLowerCase() === h.toLowerCase()) === i)
    .map((h) => hostPort(h, t.port))
    .join(", ");
}

/** One line: how many references, and how many of each kind of change. */
export function summaryLine(r: Report): string {
  const count = (k: Reference["action"]["kind"]) => r.references.filter((x) => x.action.kind === k).length;
  const head = `references to the primary's apiserver (${targetText(r.target)})`;
  const skipped = r.skipped.length ? `; not scanned: ${r.skipped.join("; ")}` : "";
  if (r.references.length === 0) return `${head}: none${skipped}`;
  const parts = [
    count("fix") && `${count("fix")} with a safe edit (kubeha references --fix)`,
    count("manual") && `${count("manual")} to change by hand`,
    count("apply") && `${count("apply")} that kubeha apply changes`,
  ].filter(Boolean);
  return `${head}: ${plural(r.references.length, "found", "found")}: ${parts.join(", ")}${skipped}`;
}

function actionText(a: Reference["action"]): string {
  if (a.kind === "fix") return "safe edit: kubeha references --fix";
  if (a.kind === "apply") return `kubeha apply does it, step ${a.step}`;
  return a.advice;
}

/** The summary line and every reference: where, what it says, the change and who makes it. */
/** The report for people; with `width`, every line fits it (as the plan it follows does). */
export function formatReport(r: Report, width = Infinity): string {
  const mark = { fix: "✎", manual: "!", apply: "·" };
  const text = [
    summaryLine(r),
    ...r.references.flatMap((x) => [
      `  ${mark[x.action.kind]} ${x.where} ${x.field}: ${x.says}`,
      `      change ${x.change} (${actionText(x.action)})`,
    ]),
  ].join("\n");
  return wrapText(text, width);
}

/** The report for machines: references and what was not scanned (never a Secret's value). */
export function referencesJson(r: Report): { references: Reference[]; skipped: string[] } {
  return { references: r.references, skipped: r.skipped };
}
