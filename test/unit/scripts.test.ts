// The set-up and CI scripts run on operators' machines: they may install, never stop, kill or
// disable anything they did not start (issue: `pkill -x etcd` and `systemctl disable --now nginx`
// in scripts/setup-debian.sh took down a user's own services).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../../", import.meta.url));
const scripts = [...readdirSync(`${REPO}scripts`).map((f) => `scripts/${f}`), ".ci/run"];

/** Commands that stop, kill or disable processes or services by name rather than by a PID we hold. */
const FORBIDDEN =
  /\b(pkill|killall)\b|\bsystemctl\s+(?:--\S+\s+)*(stop|disable|mask|kill|restart)\b|\bservice\s+\S+\s+stop\b/;

test("no set-up or CI script stops, kills or disables a process or service by name", () => {
  assert.ok(scripts.includes("scripts/setup-debian.sh"));
  for (const path of scripts) {
    const code = readFileSync(`${REPO}${path}`, "utf8")
      .split("\n")
      .filter((line) => !line.trimStart().startsWith("#"));
    const hit = code.find((line) => FORBIDDEN.test(line));
    assert.equal(hit, undefined, `${path}: ${hit}`);
  }
});

test("the pattern catches what the old set-up script did", () => {
  assert.match("systemctl disable --now etcd nginx >/dev/null 2>&1 || true", FORBIDDEN);
  assert.match("pkill -x etcd || true", FORBIDDEN);
  assert.doesNotMatch("apt-get install -y -qq etcd-server", FORBIDDEN);
});
