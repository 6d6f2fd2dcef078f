// The verification report: a warning (a single point of failure, not tested) is neither a pass that
// claims high availability nor a failure.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatChecks } from "../../src/verify/index.js";

test("a warning is marked ! and the summary does not claim the whole is highly available", () => {
  const pass = { name: "etcd health", ok: true, detail: "leader x" };
  const spof = {
    name: "failover: entry point",
    ok: true,
    warning: true,
    detail: "not tested: nginx on lb is the only way in",
  };
  const text = formatChecks([pass, spof]);
  assert.match(text, /^✓ etcd health: leader x$/m);
  assert.match(text, /^! failover: entry point: not tested/m);
  assert.match(
    text,
    /all 2 checks passed, but not everything is highly available: see failover: entry point$/,
  );
  assert.match(formatChecks([pass]), /all 1 checks passed: the control plane is highly available$/);
  assert.match(formatChecks([pass, { ...spof, ok: false }]), /1 of 2 checks FAILED$/);
});
