// kubeha's load balancer inside an nginx that already has a stream {} block: the include placed in
// that block once, kubeha's servers without a stream {} around them, and the real nginx accepting both.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { renderNginxStream, scanNginxConf } from "../../src/render/nginx.js";
import {
  excludeFromStreamBlock,
  includeInStreamBlock,
  listensOn,
  MERGED_CONF_PATH,
  MERGED_INCLUDE,
} from "../../src/render/nginx-merge.js";
import { skipTest } from "../helpers/skip.js";

const NGINX = "/usr/sbin/nginx";
const STREAM_SO = "/usr/lib/nginx/modules/ngx_stream_module.so";
const masters = ["10.0.0.11", "10.0.0.12", "10.0.0.13"];

const operators = [
  "# the operator's TCP proxies",
  "stream {",
  "    upstream backends { server 127.0.0.1:7000; }",
  "    server {",
  "        listen 9999;",
  "        proxy_pass backends;",
  "    }",
  "}",
  "",
].join("\n");

describe("kubeha's servers inside an existing stream {} block", () => {
  it("adds the include as the block's first directive, leaves the rest as it was, and only once", () => {
    const conf = `events { }\n${operators}`;
    const once = includeInStreamBlock(conf, "lb:/etc/nginx/nginx.conf");
    assert.notEqual(once, conf);
    assert.equal(includeInStreamBlock(once, "lb:/etc/nginx/nginx.conf"), once);
    const includes = scanNginxConf(once).filter((d) => d.name === "include");
    assert.deepEqual(
      includes.map((d) => [d.args[0], d.depth]),
      [[MERGED_CONF_PATH, 1]],
    );
    // Removing the two added lines gives the file back byte for byte (the undo advice).
    const undone = once
      .split("\n")
      .filter((l, i, all) => !l.includes(MERGED_INCLUDE) && !all[i + 1]?.includes(MERGED_INCLUDE))
      .join("\n");
    assert.equal(undone, conf);
  });

  it("takes the include out again (the rollback): the file as it was, the operator's later edits kept", () => {
    const file = "lb:/etc/nginx/nginx.conf";
    const conf = `events { }\n${operators}`;
    assert.equal(excludeFromStreamBlock(includeInStreamBlock(conf, file), file), conf);
    assert.equal(excludeFromStreamBlock(conf, file), conf, "nothing to take out");
    // The block's first directive on the brace's line.
    const oneLine =
      "stream { upstream b { server 127.0.0.1:7000; } server { listen 9999; proxy_pass b; } }\n";
    assert.equal(excludeFromStreamBlock(includeInStreamBlock(oneLine, file), file), oneLine);
    // Re-indented and a server added by the operator since: only kubeha's two lines go.
    const edited = includeInStreamBlock(conf, file)
      .replace(`    ${MERGED_INCLUDE}`, `\t${MERGED_INCLUDE}`)
      .replace("    server {", "    server { listen 9998; proxy_pass backends; }\n    server {");
    assert.equal(
      excludeFromStreamBlock(edited, file),
      conf.replace("    server {", "    server { listen 9998; proxy_pass backends; }\n    server {"),
    );
    const shared = `stream {\n    ${MERGED_INCLUDE} upstream b { server 127.0.0.1:7000; }\n}\n`;
    assert.throws(() => excludeFromStreamBlock(shared, file), {
      message:
        /^lb:\/etc\/nginx\/nginx\.conf line 2: kubeha's `include \/etc\/nginx\/kubeha\/apiservers-stream\.conf;` shares its line/,
    });
  });

  it("refuses a file without one top-level stream {} block, and kubeha's include anywhere else", () => {
    assert.throws(() => includeInStreamBlock("events { }\n", "lb:/etc/nginx/x.conf"), {
      message: /^lb:\/etc\/nginx\/x\.conf: no top-level stream \{\} block on disk/,
    });
    const stray = `${operators}http {\n    ${MERGED_INCLUDE}\n}\n`;
    assert.throws(() => includeInStreamBlock(stray, "lb:/etc/nginx/x.conf"), {
      message: /is at line 10, not directly inside the stream \{\} block: remove it/,
    });
  });

  it("reads a listen's port in every form nginx allows", () => {
    for (const v of ["6443", "0.0.0.0:6443", "[::]:6443", "10.0.0.20:6443", "6000-7000", "*:6443"])
      assert.ok(listensOn(v, 6443), v);
    for (const v of ["16443", "10.0.0.20:644", "unix:/run/x.sock", "7000-8000", "[::1]:64430"])
      assert.ok(!listensOn(v, 6443), v);
  });

  it("renders only the upstream and server when asked", () => {
    const inner = renderNginxStream({ masters, listenPort: 6443, serversOnly: true });
    const top = scanNginxConf(inner).filter((d) => d.depth === 0);
    assert.deepEqual(
      top.map((d) => d.name),
      ["upstream", "server"],
    );
  });

  it("passes nginx -t with the real nginx, and a second stream {} block would not", (t) => {
    if (!existsSync(NGINX) || !existsSync(STREAM_SO)) {
      skipTest(t, `${NGINX} or ${STREAM_SO} not installed`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "kubeha-nginx-merge-"));
    try {
      mkdirSync(join(dir, "kubeha"));
      const ours = join(dir, "kubeha/apiservers-stream.conf");
      writeFileSync(ours, renderNginxStream({ masters, listenPort: 16443, serversOnly: true }));
      const base = [
        `load_module ${STREAM_SO};`,
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log;`,
        "events { worker_connections 64; }",
        "",
      ].join("\n");
      const test = (conf: string) => {
        writeFileSync(join(dir, "nginx.conf"), conf);
        return spawnSync(NGINX, ["-t", "-p", dir, "-c", join(dir, "nginx.conf")], { encoding: "utf8" });
      };
      const merged = includeInStreamBlock(base + operators, "nginx.conf").replace(MERGED_CONF_PATH, ours);
      const ok = test(merged);
      assert.equal(ok.status, 0, ok.stderr);
      const twice = test(`${base}${operators}stream {\n    include ${ours};\n}\n`);
      assert.notEqual(twice.status, 0);
      assert.match(twice.stderr, /"stream" directive is duplicate/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
