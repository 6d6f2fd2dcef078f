// Secrets never reach output: the one redaction layer every line, plan, report and log goes through.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { redact, registerSecret } from "../../src/ui/redact.js";

describe("redact", () => {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const pkcs8 = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const sec1 = privateKey.export({ type: "sec1", format: "pem" }).toString();

  test("PEM private keys of any kind, wherever they appear", () => {
    for (const pem of [pkcs8, sec1]) {
      const out = redact(`before\n${pem}after`);
      assert.equal(out, "before\n[private key redacted]\nafter");
      assert.ok(!out.includes(pem.split("\n")[1]!));
    }
  });

  test("kubeconfig credentials", () => {
    const kc =
      "users:\n- name: admin\n  user:\n    client-certificate-data: Q0VSVA==\n    client-key-data: S0VZS0VZS0VZ\n    token: abc.def\n";
    const out = redact(kc);
    assert.match(out, /client-key-data: \[redacted\]/);
    assert.match(out, /token: \[redacted\]/);
    assert.match(out, /client-certificate-data: Q0VSVA==/, "certificates are not secrets");
  });

  test("a registered secret is hidden everywhere, even inside other text", () => {
    registerSecret("s3cr3t-value-1234");
    assert.equal(redact("error: bad s3cr3t-value-1234 here"), "error: bad [secret redacted] here");
    assert.equal(redact("nothing to hide"), "nothing to hide");
  });
});
