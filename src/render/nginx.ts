/**
 * The nginx side of the load balancer: the `stream {}` configuration for the apiservers, and pure
 * helpers to install it at nginx's top level and to tell whether nginx has the stream module.
 */
import { KubehaError } from "../errors.js";
import { hostPort } from "./net.js";
import { renderTemplate } from "./template.js";
import { plural } from "../ui/plural.js";

/** Where kubeha's stream configuration goes, and the include that nginx.conf needs for it. */
export const STREAM_DIR = "/etc/nginx/stream.d";
export const STREAM_CONF_PATH = `${STREAM_DIR}/kubeha-apiservers.conf`;
export const STREAM_INCLUDE = `${STREAM_DIR}/*.conf`;

export interface NginxStreamOptions {
  /** The apiservers' addresses (IPv6 is bracketed for nginx). */
  masters: string[];
  /** The apiservers' port. Default 6443. */
  apiserverPort?: number;
  /** The port nginx listens on (the inventory's loadBalancer.port). */
  listenPort: number;
  /** Also listen on [::]. Default false. */
  listenIPv6?: boolean;
  upstreamName?: string;
  maxFails?: number;
  failTimeout?: string;
  connectTimeout?: string;
  /** Idle timeout of a proxied connection; watches need minutes. Default 10m. */
  proxyTimeout?: string;
  /** Only the upstream and server, for a file included inside an existing stream {} block. */
  serversOnly?: boolean;
}

const DURATION = /^\d+(ms|s|m|h|d)?$/;
const HOST = /^[A-Za-z0-9.:-]+$/;

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new KubehaError(`nginx: ${what} ${port} is not a port`);
}

/** The nginx stream configuration (a whole `stream {}` block, or its inside) for the apiservers behind the LB. */
export function renderNginxStream(opts: NginxStreamOptions): string {
  const apiserverPort = opts.apiserverPort ?? 6443;
  checkPort(apiserverPort, "apiserver port");
  checkPort(opts.listenPort, "listen port");
  if (opts.masters.length === 0) throw new KubehaError("nginx: no apiserver to balance");
  for (const m of opts.masters) {
    if (!HOST.test(m.replace(/^\[|\]$/g, "")))
      throw new KubehaError(`nginx: ${JSON.stringify(m)} is not an address`);
  }
  const upstreamName = opts.upstreamName ?? "kubeha_apiservers";
  if (!/^[A-Za-z0-9_]+$/.test(upstreamName))
    throw new KubehaError(`nginx: bad upstream name ${upstreamName}`);
  const maxFails = opts.maxFails ?? 3;
  if (!Number.isInteger(maxFails) || maxFails < 0) throw new KubehaError(`nginx: bad max_fails ${maxFails}`);
  const durations = {
    failTimeout: opts.failTimeout ?? "10s",
    connectTimeout: opts.connectTimeout ?? "2s",
    proxyTimeout: opts.proxyTimeout ?? "10m",
  };
  for (const [k, v] of Object.entries(durations)) {
    if (!DURATION.test(v)) throw new KubehaError(`nginx: ${k} ${JSON.stringify(v)} is not an nginx duration`);
  }
  const servers = [...new Set(opts.masters.map((m) => hostPort(m.replace(/^\[|\]$/g, ""), apiserverPort)))];
  return renderTemplate("nginx-stream.conf.hbs", {
    upstreamName,
    servers,
    maxFails,
    ...durations,
    listenPort: opts.listenPort,
    listenIPv6: opts.listenIPv6 ?? false,
    serversOnly: opts.serversOnly ?? false,
  });
}

// ---- a minimal reader of nginx's configuration syntax ----

/** A directive found in an nginx configuration: name, arguments, nesting depth and place in the text. */
export interface NginxDirective {
  name: string;
  args: string[];
  depth: number;
  /** True for `name ... {`. */
  block: boolean;
  start: number;
  end: number;
}

/**
 * The directives of an nginx configuration text with their nesting depth (comments and quotes
 * understood). Throws when the braces do not balance.
 */
export function scanNginxConf(text: string, file = "nginx.conf"): NginxDirective[] {
  const out: NginxDirective[] = [];
  let depth = 0;
  let words: string[] = [];
  let start = -1;
  let i = 0;
  const flush = (block: boolean, end: number) => {
    if (words.length > 0) out.push({ name: words[0] ?? "", args: words.slice(1), depth, block, start, end });
    words = [];
    start = -1;
  };
  while (i < text.length) {
    const ch = text[i] ?? "";
    if (ch === "#") {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (/\s/.test(ch)) {
      i++;
    } else if (ch === ";") {
      flush(false, i + 1);
      i++;
    } else if (ch === "{") {
      flush(true, i + 1);
      depth++;
      i++;
    } else if (ch === "}") {
      if (words.length > 0) throw new KubehaError(`${file}: directive ${words[0]} has no ';' before '}'`);
      depth--;
      if (depth < 0) throw new KubehaError(`${file}: unexpected '}' at offset ${i}`);
      i++;
    } else {
      if (start < 0) start = i;
      let word = "";
      if (ch === '"' || ch === "'") {
        const quote = ch;
        i++;
        while (i < text.length && text[i] !== quote) {
          if (text[i] === "\\") i++;
          word += text[i] ?? "";
          i++;
        }
        i++;
      } else {
        while (i < text.length && !/[\s;{}]/.test(text[i] ?? "")) {
          word += text[i];
          i++;
        }
      }
      words.push(word);
    }
  }
  if (words.length > 0) throw new KubehaError(`${file}: directive ${words[0]} is not terminated`);
  if (depth !== 0) throw new KubehaError(`${file}: ${plural(depth, "block")} not closed`);
  return out;
}

/**
 * nginx.conf with `include <includePath>;` at its top level (outside http {}), added at the end once;
 * the same text when it is already there. Throws when the include sits inside a block, or when the
 * file already has its own top-level `stream {}` (a second one would be refused by nginx).
 */
export function ensureStreamInclude(
  nginxConf: string,
  includePath = STREAM_INCLUDE,
  file = "nginx.conf",
): string {
  const directives = scanNginxConf(nginxConf, file);
  const includes = directives.filter((d) => d.name === "include" && d.args[0] === includePath);
  if (includes.some((d) => d.depth === 0)) return nginxConf;
  const nested = includes.find((d) => d.depth > 0);
  if (nested) {
    throw new KubehaError(
      `${file}: 'include ${includePath}' is inside a block (offset ${nested.start}); stream {} must be at the top level: move it out of that block`,
    );
  }
  if (directives.some((d) => d.depth === 0 && d.block && d.name === "stream")) {
    throw new KubehaError(
      `${file}: already has a top-level stream {} block, and nginx allows only one (kubeha's ${STREAM_CONF_PATH} is one): move what it serves to another host and remove it, or use another host as loadBalancer`,
    );
  }
  const sep = nginxConf.endsWith("\n") || nginxConf === "" ? "" : "\n";
  return `${nginxConf}${sep}\n# managed by kubeha: TCP load balancing (stream {} blocks) at the top level\ninclude ${includePath};\n`;
}

/**
 * nginx.conf with `load_module <modulePath>;` at its top (load_module must come before any block),
 * once; the same text when a load_module for that file name is already there.
 */
export function ensureLoadModule(nginxConf: string, modulePath: string, file = "nginx.conf"): string {
  const base = modulePath.split("/").at(-1) ?? modulePath;
  const present = scanNginxConf(nginxConf, file).some(
    (d) => d.depth === 0 && d.name === "load_module" && (d.args[0] ?? "").split("/").at(-1) === base,
  );
  if (present) return nginxConf;
  return `# managed by kubeha: the stream module\nload_module ${modulePath};\n${nginxConf}`;
}

/** Whether nginx can serve a stream {} block, and what to do when it cannot. */
export type StreamModuleStatus =
  | { state: "builtin" }
  /** A dynamic module already loaded by a load_module line (Debian: modules-enabled/50-mod-stream.conf). */
  | { state: "loaded" }
  /** A dynamic module that is installed but not loaded: add `loadModule` at nginx.conf's top. */
  | { state: "load"; modulePath: string; loadModule: string }
  | { state: "missing"; message: string };

const MISSING_HELP =
  "install the stream module: on Debian/Ubuntu `apt-get install libnginx-mod-stream` (or the nginx-full " +
  "or nginx-extras package, which include it); on RHEL/Fedora `dnf install nginx-mod-stream`; on Alpine " +
  "`apk add nginx-mod-stream`";

/**
 * Decide how nginx gets its stream module, from `nginx -V` output (stderr), the listing of
 * /etc/nginx/modules-enabled (names and symlink targets, or the load_module lines found there and in
 * nginx.conf) and, optionally, the listing of nginx's modules directory (`ls /usr/lib/nginx/modules`).
 */
export function needsStreamLoadModule(
  nginxV: string,
  modulesEnabled: string,
  modulesDirListing?: string,
): StreamModuleStatus {
  if (!/nginx version:/i.test(nginxV)) {
    return {
      state: "missing",
      message: `nginx is not installed (nginx -V printed no version); ${MISSING_HELP}`,
    };
  }
  const configure = /configure arguments:(.*)/.exec(nginxV)?.[1] ?? "";
  const args = configure.split(/\s+/);
  if (args.includes("--with-stream")) return { state: "builtin" };
  const loadedRe = /ngx_stream_module\.so|mod-stream\.conf/;
  if (args.includes("--with-stream=dynamic") || loadedRe.test(modulesEnabled)) {
    if (loadedRe.test(modulesEnabled)) return { state: "loaded" };
    const modulesDir = /--modules-path=(\S+)/.exec(configure)?.[1] ?? "/usr/lib/nginx/modules";
    if (modulesDirListing !== undefined && !/(^|\s|\/)ngx_stream_module\.so(\s|$)/m.test(modulesDirListing)) {
      return {
        state: "missing",
        message: `nginx is built with a dynamic stream module but ${modulesDir}/ngx_stream_module.so is not installed; ${MISSING_HELP}`,
      };
    }
    const modulePath = `${modulesDir}/ngx_stream_module.so`;
    return { state: "load", modulePath, loadModule: `load_module ${modulePath};` };
  }
  return { state: "missing", message: `this nginx is built without the stream module; ${MISSING_HELP}` };
}
