import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  ensureLoadModule,
  ensureStreamInclude,
  needsStreamLoadModule,
  renderNginxStream,
  scanNginxConf,
  STREAM_INCLUDE,
} from "../../src/render/nginx.js";
import { skipTest } from "../helpers/skip.js";

const FIXTURES = new URL("../../../test/fixtures/manifests/configmaps/", import.meta.url);
const debianConf = readFileSync(new URL("nginx-debian.conf", FIXTURES), "utf8");
const NGINX = "/usr/sbin/nginx";
const STREAM_SO = "/usr/lib/nginx/modules/ngx_stream_module.so";

const masters = ["10.0.0.11", "10.0.0.12", "10.0.0.13"];

describe("nginx stream configuration", () => {
  it("balances the three apiservers with health parameters and watch-friendly timeouts", () => {
    const conf = renderNginxStream({ masters, listenPort: 6443 });
    assert.match(conf, /^# managed by kubeha/);
    assert.match(conf, /upstream kubeha_apiservers \{/);
    for (const m of masters) assert.ok(conf.includes(`server ${m}:6443 max_fails=3 fail_timeout=10s;`), m);
    assert.match(conf, /^\s+listen 6443;$/m);
    assert.ok(!conf.includes("[::]"));
    assert.match(conf, /proxy_pass kubeha_apiservers;/);
    assert.match(conf, /proxy_connect_timeout 2s;/);
    assert.match(conf, /proxy_timeout 10m;/);
    assert.match(conf, /proxy_next_upstream on;/);
    const top = scanNginxConf(conf).filter((d) => d.depth === 0);
    assert.deepEqual(
      top.map((d) => d.name),
      ["stream"],
    );
  });

  it("brackets IPv6 apiservers and listens on [::] only when asked", () => {
    const conf = renderNginxStream({
      masters: ["fd00::11", "[fd00::12]"],
      listenPort: 8443,
      listenIPv6: true,
    });
    assert.ok(conf.includes("server [fd00::11]:6443 max_fails=3"));
    assert.ok(conf.includes("server [fd00::12]:6443 max_fails=3"));
    assert.match(conf, /listen 8443;\n\s+listen \[::\]:8443;/);
  });

  it("refuses values that would break the file", () => {
    assert.throws(() => renderNginxStream({ masters: ["10.0.0.1; include /etc/passwd"], listenPort: 6443 }));
    assert.throws(() => renderNginxStream({ masters, listenPort: 70000 }), { message: /not a port/ });
    assert.throws(() => renderNginxStream({ masters, listenPort: 6443, proxyTimeout: "10 m" }));
    assert.throws(() => renderNginxStream({ masters: [], listenPort: 6443 }), { message: /no apiserver/ });
  });

  it("passes nginx -t with the real nginx, included from the top level of an nginx.conf", (t) => {
    if (!existsSync(NGINX) || !existsSync(STREAM_SO)) {
      skipTest(t, `${NGINX} or ${STREAM_SO} not installed`);
      return;
    }
    const dir = mkdtempSync(join(tmpdir(), "kubeha-nginx-"));
    try {
      mkdirSync(join(dir, "stream.d"));
      mkdirSync(join(dir, "conf.d"));
      writeFileSync(
        join(dir, "stream.d", "kubeha-apiservers.conf"),
        renderNginxStream({ masters, listenPort: 16443 }),
      );
      // An http {} that includes conf.d, like Debian's: the stream block must not land in there.
      writeFileSync(join(dir, "conf.d", "site.conf"), "server { listen 18080; }\n");
      const base = [
        `pid ${dir}/nginx.pid;`,
        `error_log ${dir}/error.log;`,
        "events { worker_connections 64; }",
        `http { access_log off; include ${dir}/conf.d/*.conf; }`,
        "",
      ].join("\n");
      const conf = ensureStreamInclude(ensureLoadModule(base, STREAM_SO), `${dir}/stream.d/*.conf`);
      writeFileSync(join(dir, "nginx.conf"), conf);
      const r = spawnSync(NGINX, ["-t", "-c", join(dir, "nginx.conf"), "-p", dir], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /test is successful/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("installing the stream include at nginx's top level", () => {
  it("adds the include once, outside http {}, and leaves the rest of Debian's nginx.conf alone", () => {
    const once = ensureStreamInclude(debianConf);
    assert.ok(once.startsWith(debianConf));
    const includes = scanNginxConf(once).filter((d) => d.name === "include" && d.args[0] === STREAM_INCLUDE);
    assert.equal(includes.length, 1);
    assert.equal(includes[0]?.depth, 0);
    const http = scanNginxConf(once).find((d) => d.name === "http");
    assert.ok(http && includes[0] && includes[0].start > http.start);
  });

  it("is idempotent", () => {
    const once = ensureStreamInclude(debianConf);
    assert.equal(ensureStreamInclude(once), once);
  });

  it("is not fooled by a commented include or one inside http {}", () => {
    const commented = `${debianConf}\n# include ${STREAM_INCLUDE};\n`;
    assert.notEqual(ensureStreamInclude(commented), commented);
    const nested = debianConf.replace(
      "include /etc/nginx/sites-enabled/*;",
      `include /etc/nginx/sites-enabled/*;\n\tinclude ${STREAM_INCLUDE};`,
    );
    assert.throws(() => ensureStreamInclude(nested, STREAM_INCLUDE, "lb:/etc/nginx/nginx.conf"), {
      message: /lb:\/etc\/nginx\/nginx\.conf: .* inside a block/,
    });
  });

  it("refuses an nginx.conf that already has its own stream {} (nginx allows one)", () => {
    assert.throws(
      () => ensureStreamInclude(`${debianConf}\nstream {\n  server { listen 9000; proxy_pass x; }\n}\n`),
      {
        message: /already has a top-level stream/,
      },
    );
  });

  it("refuses an nginx.conf whose braces do not balance", () => {
    assert.throws(() => ensureStreamInclude("http {\n"), { message: /not closed/ });
  });

  it("adds load_module before any block, once", () => {
    const once = ensureLoadModule(debianConf, STREAM_SO);
    const first = scanNginxConf(once)[0];
    assert.equal(first?.name, "load_module");
    assert.equal(ensureLoadModule(once, STREAM_SO), once);
    assert.equal(
      ensureLoadModule("load_module modules/ngx_stream_module.so;\n", STREAM_SO).split("load_module").length,
      2,
    );
  });
});

describe("is the stream module there?", () => {
  const debianV = [
    "nginx version: nginx/1.22.1",
    "built with OpenSSL 3.0.11 19 Sep 2023",
    "TLS SNI support enabled",
    "configure arguments: --with-cc-opt='-g -O2' --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf " +
      "--modules-path=/usr/lib/nginx/modules --with-http_ssl_module --with-stream=dynamic --with-stream_ssl_module " +
      "--with-mail=dynamic",
  ].join("\n");
  const upstreamV =
    "nginx version: nginx/1.26.2\nconfigure arguments: --prefix=/etc/nginx --with-stream --with-stream_ssl_module";
  const enabled =
    "lrwxrwxrwx 1 root root 61 Jan  1 00:00 50-mod-stream.conf -> /usr/share/nginx/modules-available/mod-stream.conf\n";

  it("built in (nginx.org packages)", () => {
    assert.deepEqual(needsStreamLoadModule(upstreamV, ""), { state: "builtin" });
  });

  it("a Debian dynamic module, already loaded by modules-enabled", () => {
    assert.deepEqual(needsStreamLoadModule(debianV, enabled), { state: "loaded" });
    assert.deepEqual(needsStreamLoadModule(debianV, "load_module modules/ngx_stream_module.so;\n"), {
      state: "loaded",
    });
  });

  it("a dynamic module installed but not loaded: the load_module line to add", () => {
    assert.deepEqual(needsStreamLoadModule(debianV, "", "ngx_http_echo_module.so\nngx_stream_module.so\n"), {
      state: "load",
      modulePath: "/usr/lib/nginx/modules/ngx_stream_module.so",
      loadModule: "load_module /usr/lib/nginx/modules/ngx_stream_module.so;",
    });
  });

  it("missing: names the Debian package and the alternatives", () => {
    for (const status of [
      needsStreamLoadModule(debianV, "", "ngx_mail_module.so\n"),
      needsStreamLoadModule("nginx version: nginx/1.18.0\nconfigure arguments: --with-http_ssl_module", ""),
      needsStreamLoadModule("sh: 1: nginx: not found", ""),
    ]) {
      assert.equal(status.state, "missing");
      if (status.state !== "missing") continue;
      assert.match(status.message, /libnginx-mod-stream/);
      assert.match(status.message, /nginx-full/);
      assert.match(status.message, /nginx-extras/);
    }
  });
});
