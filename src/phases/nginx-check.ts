/**
 * The nginx configuration kubeha would install, tested before the run's first change: `nginx -t` on a
 * copy of /etc/nginx with kubeha's files in it, in a temporary directory that is removed again. The
 * running nginx and its files are not touched, so the other steps need not wait for the load balancer
 * to be validated in place.
 */
import { posix } from "node:path";
import { KubehaError, InputError } from "../errors.js";
import type { Host } from "../ssh/types.js";

export const NGINX_DIR = "/etc/nginx";

export interface NginxFile {
  path: string;
  content: string;
}

/**
 * The script: copy /etc/nginx, write `files` into the copy, point the copy's absolute
 * /etc/nginx/ references (includes, symlinks) at the copy, test it, remove it. Its output names the real paths.
 * Undefined when a file lies outside /etc/nginx (the step then only tests in place, as before).
 */
export function copyCheckScript(files: NginxFile[], conf = `${NGINX_DIR}/nginx.conf`): string | undefined {
  const rel = (p: string) => posix.relative(NGINX_DIR, p);
  if ([conf, ...files.map((f) => f.path)].some((p) => rel(p).startsWith("..") || posix.isAbsolute(rel(p))))
    return undefined;
  const write = files.map((f) => {
    const target = `"$d/nginx/${rel(f.path)}"`;
    const b64 = Buffer.from(f.content).toString("base64");
    return `mkdir -p "$(dirname ${target})" && rm -f ${target} && printf '%s' '${b64}' | base64 -d > ${target}`;
  });
  return [
    "d=$(mktemp -d /tmp/kubeha-nginx-check.XXXXXX) || exit 1",
    `trap 'rm -rf "$d"' EXIT`,
    `cp -a ${NGINX_DIR} "$d/nginx" || exit 1`,
    // Debian's modules-enabled/ and sites-enabled/ link to absolute paths: into the copy too, first,
    // so that nothing below writes through a link into the real /etc/nginx.
    `find "$d/nginx" -type l | while read -r l; do t=$(readlink "$l"); case "$t" in ${NGINX_DIR}/*) ln -sfn "$d/nginx/\${t#${NGINX_DIR}/}" "$l";; esac; done`,
    ...write.map((w) => `${w} || exit 1`),
    `find "$d/nginx" -type f -exec sed -i "s#${NGINX_DIR}/#$d/nginx/#g" {} + || exit 1`,
    `out=$(nginx -t -c "$d/nginx/${rel(conf)}" 2>&1); rc=$?`,
    `printf '%s\\n' "$out" | sed "s#$d/nginx/#${NGINX_DIR}/#g"`,
    "exit $rc",
  ].join("\n");
}

/**
 * Refuses (exit 2, nothing changed) when nginx on `host` would reject `files`. The test runs on a copy;
 * nothing of the host's configuration changes.
 */
export async function checkNginxCopy(host: Host, files: NginxFile[]): Promise<void> {
  const script = copyCheckScript(files);
  if (!script) return;
  const res = await host.exec(script, { timeoutMs: 30_000 });
  if (res.code === 0) return;
  const why = res.stdout.trim().split("\n").slice(-4).join(" | ");
  if (/nginx: \[emerg\]|test failed/.test(res.stdout))
    throw new InputError(
      `${host.name}: nginx -t rejects the configuration kubeha would install (${why}); nothing was changed`,
    );
  throw new KubehaError(`${host.name}: could not test the new nginx configuration on a copy: ${why}`);
}
