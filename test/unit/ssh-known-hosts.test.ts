import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import {
  checkHostKey,
  entryMatches,
  fingerprint,
  formatEntry,
  hashHostName,
  knownHostsName,
  parseKnownHosts,
  usesHashedNames,
} from "../../src/ssh/known-hosts.js";
import { shellQuote } from "../../src/ssh/shell-quote.js";

/** A syntactically valid key blob of the given type (content is arbitrary for matching). */
function blob(type: string, seed: string): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  return Buffer.concat([len, t, createHash("sha256").update(seed).digest()]);
}
const keyA = blob("ssh-ed25519", "a");
const keyB = blob("ssh-ed25519", "b");
const b64 = (k: Buffer) => k.toString("base64");

// A real key, its fingerprint as `ssh-keygen -lf` printed it, and its line as `ssh-keygen -H` hashed it.
const realKey = Buffer.from("AAAAC3NzaC1lZDI1NTE5AAAAIPalE+8msGn4YHeH2IkoZh4gptgd5LnWmgURULIMTntC", "base64");
const realFingerprint = "SHA256:f9GMVsJeiAMZlyXqPAe+JJDaVzbJ2Cgv0yxXNfMJS7g";
const realHashedLine = `|1|xgtgqf17oUnQH1BPTYrB+kSiqC0=|t3Bi/SpWumnsXyO+yDxV9MuQXBU= ssh-ed25519 ${b64(realKey)}`;

describe("known_hosts", () => {
  it("computes OpenSSH's SHA256 fingerprint (no padding)", () => {
    assert.equal(fingerprint(realKey), realFingerprint);
  });

  it("names non-standard ports as [host]:port", () => {
    assert.equal(knownHostsName("10.0.0.1", 22), "10.0.0.1");
    assert.equal(knownHostsName("10.0.0.1", 2222), "[10.0.0.1]:2222");
  });

  it("matches plain, comma-separated, wildcard, negated and hashed names", () => {
    const text = [
      "# comment",
      "",
      `master-2,10.0.0.12 ssh-ed25519 ${b64(keyA)} comment here`,
      `[10.0.0.13]:2222 ssh-ed25519 ${b64(keyA)}`,
      `*.example.com,!bad.example.com ssh-ed25519 ${b64(keyA)}`,
      `${hashHostName("10.0.0.14")} ssh-ed25519 ${b64(keyA)}`,
      "garbage-line-without-key",
    ].join("\n");
    const entries = parseKnownHosts(text);
    assert.equal(entries.length, 4);
    assert.equal(entries[0]!.line, 3);
    const matching = (name: string) => entries.some((e) => entryMatches(e, name));
    assert.ok(matching("10.0.0.12") && matching("master-2"));
    assert.ok(matching("[10.0.0.13]:2222") && !matching("10.0.0.13"));
    assert.ok(matching("api.example.com") && !matching("bad.example.com"));
    assert.ok(matching("10.0.0.14") && !matching("10.0.0.15"));
    assert.ok(usesHashedNames(entries));
  });

  it("matches a hashed entry written by ssh-keygen -H", () => {
    const [entry] = parseKnownHosts(realHashedLine);
    assert.ok(entryMatches(entry!, "10.0.0.1"));
    assert.ok(!entryMatches(entry!, "10.0.0.2"));
    assert.deepEqual(checkHostKey([entry!], "10.0.0.1", realKey), { status: "known" });
  });

  it("says known, mismatch (with the known fingerprints), unknown or revoked", () => {
    const entries = parseKnownHosts(
      [`10.0.0.12 ssh-ed25519 ${b64(keyA)}`, `@revoked * ssh-ed25519 ${b64(blob("ssh-ed25519", "r"))}`].join(
        "\n",
      ),
    );
    assert.deepEqual(checkHostKey(entries, "10.0.0.12", keyA), { status: "known" });
    assert.deepEqual(checkHostKey(entries, "10.0.0.12", keyB), {
      status: "mismatch",
      known: [{ fingerprint: fingerprint(keyA), line: 1 }],
    });
    assert.deepEqual(checkHostKey(entries, "10.0.0.99", keyB), { status: "unknown" });
    assert.deepEqual(checkHostKey(entries, "10.0.0.99", blob("ssh-ed25519", "r")), {
      status: "revoked",
      line: 2,
    });
  });

  it("formats new entries hashed or plain", () => {
    assert.equal(formatEntry("[h]:2222", keyA, false), `[h]:2222 ssh-ed25519 ${b64(keyA)}`);
    const [hashed] = parseKnownHosts(formatEntry("[h]:2222", keyA, true));
    assert.ok(hashed!.hosts[0]!.startsWith("|1|") && entryMatches(hashed!, "[h]:2222"));
  });
});

describe("shellQuote", () => {
  it("leaves plain words alone and single-quotes the rest", () => {
    assert.equal(shellQuote(["ls", "-l", "/etc/kubernetes"]), "ls -l /etc/kubernetes");
    assert.equal(shellQuote(["echo", "a b", "it's", "$HOME", ""]), `echo 'a b' 'it'\\''s' '$HOME' ''`);
  });
});
