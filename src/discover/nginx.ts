/**
 * The LB's nginx as it really runs: `nginx -T` prints every configuration file it reads (includes
 * resolved), each after a `# configuration file <path>:` line. kubeha's load balancer is a whole
 * `stream {}` block of its own, and nginx accepts only one, so another one blocks the conversion.
 */
import { scanNginxConf, STREAM_CONF_PATH } from "../render/nginx.js";

export interface StreamBlock {
  file: string;
  line: number;
}

const FILE_HEADER = /^# configuration file (.+):$/gm;

/** The `stream {}` blocks at a file's top level in `nginx -T` output, except kubeha's own file. */
export function foreignStreamBlocks(nginxT: string, ownFile = STREAM_CONF_PATH): StreamBlock[] {
  const headers = [...nginxT.matchAll(FILE_HEADER)];
  const found: StreamBlock[] = [];
  headers.forEach((h, i) => {
    const file = h[1] ?? "";
    if (file === ownFile) return;
    const start = (h.index ?? 0) + h[0].length + 1;
    const text = nginxT.slice(start, headers[i + 1]?.index ?? nginxT.length);
    let directives;
    try {
      directives = scanNginxConf(text, file);
    } catch {
      return; // not nginx syntax (nginx -T failed half-way): the `nginx -t` finding covers it
    }
    for (const d of directives) {
      if (d.depth === 0 && d.block && d.name === "stream")
        found.push({ file, line: text.slice(0, d.start).split("\n").length });
    }
  });
  return found;
}

/**
 * What a failed `nginx -T` complains about: its [emerg]/[alert]/[crit] lines (as `nginx: [emerg] ...`
 * or, once the error log is set up, `<time> [emerg] <pid>#<tid>: ...`), else its last `nginx:` lines.
 */
export function nginxTestError(nginxT: string): string {
  const lines = nginxT.split("\n");
  const level = /^.*?\[(emerg|alert|crit)\]\s*(\d+#\d+:\s*)?/;
  const why = lines.filter((l) => level.test(l)).map((l) => l.replace(level, "[$1] "));
  return (why.length ? why : lines.filter((l) => l.startsWith("nginx: "))).slice(-2).join(" ");
}
