// Real OpenSSH per host: key-only sshd, its own host key, one lab-wide authorized_keys,
// and the workstation's key and known_hosts.
import { createHmac, randomBytes } from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { LabHost } from "./hosts.js";
import { must } from "./proc.js";

export interface WorkstationSsh {
  identityFile: string;
  knownHostsFile: string;
  authorizedKeys: string;
}

export function sshDir(h: LabHost): string {
  return join(h.dir, "ssh");
}

/** Host key and sshd_config for one host. */
export async function prepareSshd(h: LabHost, authorizedKeys: string): Promise<void> {
  const dir = sshDir(h);
  await mkdir(dir, { recursive: true });
  await must([
    "ssh-keygen",
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-C",
    `root@${h.name}`,
    "-f",
    join(dir, "ssh_host_ed25519_key"),
  ]);
  const config = [
    // Every address of the host's own namespace, as a real sshd: a second address reaches the same machine.
    "ListenAddress 0.0.0.0:22",
    `HostKey ${join(dir, "ssh_host_ed25519_key")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    // The lab dir lives under /tmp; StrictModes would reject its ownership chain.
    "StrictModes no",
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "PrintMotd no",
    "AcceptEnv LANG LC_*",
    // bash run by sshd reads ~/.bashrc as a top-level shell; the lab's hosts share this machine's /root,
    // whose .bashrc may be anything (a pyenv init cost 100 ms of CPU per command). SHLVL=1 makes every
    // session's shell a nested one that skips it, as on a host whose root has no .bashrc of note.
    "SetEnv SHLVL=1",
    "Subsystem sftp /usr/lib/openssh/sftp-server",
  ];
  await writeFile(join(dir, "sshd_config"), config.join("\n") + "\n");
}

export function sshdArgv(h: LabHost): string[] {
  const dir = sshDir(h);
  return ["/usr/sbin/sshd", "-D", "-f", join(dir, "sshd_config"), "-E", join(dir, "sshd.log")];
}

/** The workstation key pair; its public half is the lab's only authorized key. */
export async function prepareWorkstation(labDir: string): Promise<WorkstationSsh> {
  const dir = join(labDir, "ws");
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const identityFile = join(dir, "id_ed25519");
  await must(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kubeha-lab", "-f", identityFile]);
  const authorizedKeys = join(labDir, "authorized_keys");
  await writeFile(authorizedKeys, await readFile(`${identityFile}.pub`), { mode: 0o644 });
  return { identityFile, knownHostsFile: join(dir, "known_hosts"), authorizedKeys };
}

/** OpenSSH's hashed host form: |1|base64(salt)|base64(HMAC-SHA1(salt, host)). */
export function hashHostname(host: string, salt = randomBytes(20)): string {
  const mac = createHmac("sha1", salt).update(host).digest("base64");
  return `|1|${salt.toString("base64")}|${mac}`;
}

/** known_hosts for the workstation; every other entry hashed so both forms get parsed. */
export async function writeKnownHosts(hosts: LabHost[], file: string): Promise<void> {
  const lines = await Promise.all(
    hosts.map(async (h, i) => {
      const [type, key] = (await readFile(join(sshDir(h), "ssh_host_ed25519_key.pub"), "utf8"))
        .trim()
        .split(/\s+/);
      return `${i % 2 === 0 ? h.address : hashHostname(h.address)} ${type} ${key}`;
    }),
  );
  await writeFile(file, lines.join("\n") + "\n", { mode: 0o600 });
}
