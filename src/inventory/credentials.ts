import { readFile, stat } from "node:fs/promises";
import ssh2 from "ssh2";
import { InputError } from "../errors.js";

export interface Credentials {
  privateKey?: Buffer;
  agent?: string;
  /** For error messages: "key /root/.ssh/id_ed25519 and the ssh-agent"; never the key itself. */
  description: string;
}

/**
 * Reads the identity file and finds the agent socket. Encrypted keys are only usable through the agent:
 * kubeha never asks for a passphrase. Errors name the file, never its content; they are bad input (exit 2):
 * the inventory check catches them before any host is contacted, this one if the file changed since.
 */
export async function loadCredentials(
  label: string,
  identityFile: string | undefined,
  useAgent: boolean,
): Promise<Credentials> {
  const agent = useAgent ? process.env.SSH_AUTH_SOCK : undefined;
  if (useAgent && !agent) {
    throw new InputError(`${label}: agent: true but SSH_AUTH_SOCK is not set (is ssh-agent running?)`);
  }
  let privateKey: Buffer | undefined;
  if (identityFile) {
    try {
      privateKey = await readFile(identityFile);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "error";
      throw new InputError(`${label}: cannot read identity file ${identityFile} (${code})`);
    }
    const state = privateKeyState(privateKey);
    if (state === "not-a-key") {
      throw new InputError(`${label}: identity file ${identityFile} is not a private key kubeha can read`);
    }
    const { mode, uid } = await stat(identityFile);
    if (tooOpen(mode, uid)) {
      throw new InputError(`${label}: identity file ${identityFile} ${TOO_OPEN(mode)}`);
    }
    if (state !== "ok") {
      if (!agent) {
        throw new InputError(
          `${label}: identity file ${identityFile} is encrypted; kubeha does not ask for passphrases: add it to ssh-agent (ssh-add ${identityFile}) and set agent: true`,
        );
      }
      // The agent holds the decrypted key; the encrypted file itself is of no use to us.
      privateKey = undefined;
    }
  }
  const description = [identityFile && `key ${identityFile}`, agent && "the ssh-agent"]
    .filter(Boolean)
    .join(" and ");
  return { ...(privateKey && { privateKey }), ...(agent && { agent }), description };
}

/** Whether a file's bytes are a private key kubeha can use as it is, one that needs a passphrase, or none. */
export function privateKeyState(data: Buffer): "ok" | "encrypted" | "not-a-key" {
  const parsed = ssh2.utils.parseKey(data);
  if (parsed instanceof Error) return /encrypted/i.test(parsed.message) ? "encrypted" : "not-a-key";
  // A public key parses too (a common slip: identityFile: ~/.ssh/id_ed25519.pub).
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  return key?.isPrivateKey() ? "ok" : "not-a-key";
}

/**
 * OpenSSH's rule (sshkey_perm_ok): a key file of the user's own that group or others may read is
 * refused, since the key may have leaked; kubeha refuses it the same way.
 */
export function tooOpen(mode: number, uid: number, me = process.getuid?.() ?? -1): boolean {
  return uid === me && (mode & 0o077) !== 0;
}

export const TOO_OPEN = (mode: number): string =>
  `is readable by others (mode 0${(mode & 0o777).toString(8)}); ssh refuses such a key too: chmod 600 it`;
