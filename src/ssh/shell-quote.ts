/**
 * Quotes argv for a POSIX shell: each word in single quotes unless it is plainly safe, so the remote shell
 * sees exactly these words. The only way kubeha builds a remote command line.
 */
export function shellQuote(argv: readonly string[]): string {
  return argv.map(quoteWord).join(" ");
}

function quoteWord(word: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}
