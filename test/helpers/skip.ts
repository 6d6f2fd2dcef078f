// Tests that need the machine (root, a real binary) skip where it is missing, but never under CI:
// there a skipped test would pass while proving nothing, so it fails and says what is missing.
import assert from "node:assert/strict";
import type { TestContext } from "node:test";

/** True when CI is set (`CI=true`, as CI services set it), other than to "false" or "0". */
export function underCi(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== "" && ci !== "false" && ci !== "0";
}

/**
 * The `skip` option of a suite that cannot run for `reason` (false: it can): outside CI the reason
 * (skipped), under CI an error thrown when the test file loads, so the file fails.
 */
export function skipUnlessCi(reason: string | false | undefined): string | false {
  if (!reason) return false;
  if (underCi()) throw new Error(`${reason}, and CI is set: a test that cannot run fails under CI`);
  return reason;
}

/** Skips the running test for `reason`, or under CI fails it. */
export function skipTest(t: TestContext, reason: string): void {
  if (underCi()) assert.fail(`${reason}, and CI is set: a test that cannot run fails under CI`);
  t.skip(reason);
}

/** Lab tests need root for network namespaces and mounts. */
export const labSkip = (extra = ""): string | false =>
  skipUnlessCi(
    process.getuid?.() === 0
      ? false
      : `lab tests need root (network namespaces, mounts${extra}); run them as root`,
  );
