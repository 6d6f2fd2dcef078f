/**
 * Carrying out the safe edits (`kubeha references --fix`), under the cluster lock held by the
 * caller: each object is read, checked to be at the resourceVersion the scan read, changed in
 * only the scanned values, and written back with that resourceVersion (a concurrent change: 409,
 * nothing lost). One object failing does not stop the others; all failures are named at the end.
 */
import { KubehaError } from "../errors.js";
import type { KubeClient } from "../kube/client.js";
import type { Reporter } from "../ui/reporter.js";
import { applyFix, fixName, fixPath } from "./fix.js";
import type { ObjectFix, ScannedObject } from "./scan.js";

export async function writeFixes(kube: KubeClient, fixes: ObjectFix[], reporter: Reporter): Promise<void> {
  const failed: string[] = [];
  for (const f of fixes) {
    try {
      const path = fixPath(f);
      const current = await kube.get<ScannedObject>(path);
      await kube.update(path, applyFix(current, f));
      reporter.step("cluster", `${fixName(f)}: ${f.edits.map((e) => e.field).join(", ")} changed`);
    } catch (err) {
      failed.push(err instanceof Error ? err.message : String(err));
    }
  }
  if (failed.length) throw new KubehaError(`references --fix: ${failed.join("; ")}`);
}
