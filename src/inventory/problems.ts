/** One thing wrong with the inventory, located by field path ("masters[1].address") and line. */
export interface Problem {
  path: string;
  message: string;
  line?: number;
}

/** "inventory.yaml:12: masters[1].address: ..." — the form editors and terminals link to. */
export function formatProblem(file: string, p: Problem): string {
  const where = p.line === undefined ? file : `${file}:${p.line}`;
  return p.path ? `${where}: ${p.path}: ${p.message}` : `${where}: ${p.message}`;
}
