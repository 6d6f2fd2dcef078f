/** Secrets must never reach a log, a plan or an error: everything printed goes through here. */
const PEM_PRIVATE_KEY = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g;
const KUBECONFIG_SECRET = /^(\s*(?:client-key-data|token|password):\s*)\S+/gm;

const registered = new Set<string>();

/** Remember a secret value (a key's PEM body, a token) so that any later output hides it. */
export function registerSecret(value: string): void {
  const trimmed = value.trim();
  if (trimmed.length >= 8) registered.add(trimmed);
}

export function redact(text: string): string {
  let out = text
    .replace(PEM_PRIVATE_KEY, "[private key redacted]")
    .replace(KUBECONFIG_SECRET, "$1[redacted]");
  for (const secret of registered) {
    if (out.includes(secret)) out = out.split(secret).join("[secret redacted]");
  }
  return out;
}
