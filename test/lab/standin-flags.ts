/** Flag parsing shared by the lab's stand-ins: `--name=value`, `--name value` and bare `--name` (= "true"). */
export function parseFlags(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--?([^=]+)(?:=(.*))?$/.exec(argv[i]!);
    if (!m) continue;
    const next = argv[i + 1];
    if (m[2] !== undefined) out.set(m[1]!, m[2]);
    else if (next !== undefined && !next.startsWith("-")) out.set(m[1]!, argv[++i]!);
    else out.set(m[1]!, "true");
  }
  return out;
}

export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
