// The "operator's own" load balancer of the external mode: the nginx the lab runs on host "lb", given a
// stream block of its own (not kubeha's file, which kubeha never writes in this mode) and reloaded.
import type { ExecResult } from "./proc.js";

const CONF = "/etc/nginx/operator-stream.conf";

/** Proxies lb:6443 to `backends` (address:6443 each); replaces the previous list and reloads nginx. */
export async function operatorStream(
  exec: (host: string, argv: string[], o?: { stdin?: string }) => Promise<ExecResult>,
  host: string,
  backends: string[],
): Promise<void> {
  const conf = [
    "# the operator's load balancer (lab), not kubeha's",
    "stream {",
    "    upstream operator_api {",
    ...backends.map((b) => `        server ${b}:6443;`),
    "    }",
    "    server { listen 6443; proxy_pass operator_api; proxy_connect_timeout 1s; }",
    "}",
    "",
  ].join("\n");
  const script = [
    `cat > ${CONF}`,
    `grep -q '^include ${CONF};' /etc/nginx/nginx.conf || echo 'include ${CONF};' >> /etc/nginx/nginx.conf`,
    // nginx may have been started a moment ago: its pid file is what `nginx -s` signals.
    "i=0; while [ ! -s /run/nginx.pid ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done",
    "nginx -t 2>&1 && nginx -s reload",
  ].join(" && ");
  const r = await exec(host, ["sh", "-c", script], { stdin: conf });
  if (r.code !== 0) throw new Error(`operator's nginx on ${host}: ${r.stdout}${r.stderr}`);
}
