import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer, connect as tcpConnect, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { InventoryHost, ResolvedSsh } from "../../src/inventory/types.js";
import { ExitCode, InputError } from "../../src/errors.js";
import { closeAll, connectAll, fingerprint, SshHost, UnreachableError } from "../../src/ssh/index.js";
import type { SshObserver } from "../../src/ssh/types.js";
import { skipUnlessCi } from "../helpers/skip.js";
import { localKeyState } from "../../src/inventory/parse.js";

const isRoot = process.getuid?.() === 0;
const skip = skipUnlessCi(
  !isRoot && "needs root: starts a real OpenSSH sshd on 127.0.0.1 and logs in as root",
);

/** A real sshd on a free loopback port: own host key, key-only, its log on disk to count connections. */
interface Sshd {
  port: number;
  hostKey: Buffer;
  log(): string;
  stop(): Promise<void>;
}

const dir = mkdtempSync(join(tmpdir(), "kubeha-ssh-"));
const key = join(dir, "id_ed25519");
const wrongKey = join(dir, "wrong_ed25519");
const authorizedKeys = join(dir, "authorized_keys");
const sshds: Sshd[] = [];

function keygen(path: string, passphrase = ""): void {
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", passphrase, "-f", path]);
}

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startSshd(name: string): Promise<Sshd> {
  const base = join(dir, name);
  mkdirSync(base);
  keygen(join(base, "host_key"));
  const port = await freePort();
  writeFileSync(
    join(base, "sshd_config"),
    [
      "ListenAddress 127.0.0.1",
      `Port ${port}`,
      `HostKey ${base}/host_key`,
      `PidFile ${base}/sshd.pid`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      "StrictModes no",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      // Without PAM, sshd refuses accounts with a locked password ("!"), even for key logins.
      "UsePAM yes",
      "AllowTcpForwarding yes",
      "Subsystem sftp internal-sftp",
      "LogLevel VERBOSE",
    ].join("\n") + "\n",
  );
  const logFile = join(base, "sshd.log");
  const proc: ChildProcess = spawn("/usr/sbin/sshd", ["-D", "-e", "-f", join(base, "sshd_config")], {
    stdio: ["ignore", "ignore", openSync(logFile, "a")],
  });
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const s = tcpConnect(port, "127.0.0.1", () => resolve(true)).on("error", () => resolve(false));
      s.once("connect", () => s.destroy());
    });
    if (up) break;
    if (i > 50) throw new Error(`sshd did not start: ${readFileSync(logFile, "utf8")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const hostKey = Buffer.from(readFileSync(`${base}/host_key.pub`, "utf8").split(" ")[1]!, "base64");
  const sshd: Sshd = {
    port,
    hostKey,
    log: () => readFileSync(logFile, "utf8"),
    stop: async () => {
      if (proc.exitCode === null) process.kill(proc.pid!, "SIGTERM");
      await exited;
    },
  };
  sshds.push(sshd);
  return sshd;
}

/**
 * A TCP relay to `port` whose cut() stops passing bytes either way while keeping both sockets open: what a
 * link that goes down looks like to both ends (no FIN, no RST, just silence).
 */
async function relay(port: number): Promise<{ port: number; cut(): void; close(): Promise<void> }> {
  let cut = false;
  const sockets = new Set<Socket>();
  const server = createServer((down) => {
    const up = tcpConnect(port, "127.0.0.1");
    for (const [from, to] of [
      [down, up],
      [up, down],
    ] as const) {
      sockets.add(from);
      from.on("data", (chunk) => cut || to.write(chunk));
      from.on("error", () => to.destroy());
      from.on("close", () => to.destroy());
    }
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return {
    port: (server.address() as { port: number }).port,
    cut: () => (cut = true),
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Records what an SshHost says it is waiting for. */
function recorder(): SshObserver & { seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    waiting: (host, what, seconds) => seen.push(`${host} ${what} ${seconds}s`),
    waited: (host, what) => seen.push(`${host} ${what} done`),
  };
}

function knownHosts(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, lines.map((l) => `${l}\n`).join(""));
  return file;
}
const line = (s: Sshd, k = s.hostKey) => `[127.0.0.1]:${s.port} ssh-ed25519 ${k.toString("base64")}`;

function host(name: string, s: { port: number }, ssh: Partial<ResolvedSsh> = {}): InventoryHost {
  return {
    name,
    address: "127.0.0.1",
    role: "master",
    ssh: {
      user: "root",
      port: s.port,
      identityFile: key,
      agent: false,
      sudo: false,
      acceptNewHostKeys: false,
      connectTimeoutSeconds: 5,
      stallTimeoutSeconds: 30,
      ...ssh,
    },
  };
}
const connections = (s: Sshd) =>
  s
    .log()
    .split("\n")
    .filter((l) => l.startsWith("Connection from")).length;

describe("SSH transport against a real sshd", { skip }, () => {
  let a: Sshd;
  let b: Sshd;
  let kh: string;
  let root: SshHost;

  before(async () => {
    // sshd insists on its privilege separation directory; the Debian service creates it the same way.
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
    chmodSync(dir, 0o755); // authorized_keys is read as the logging-in user
    keygen(key);
    keygen(wrongKey);
    writeFileSync(authorizedKeys, readFileSync(`${key}.pub`));
    chmodSync(authorizedKeys, 0o644);
    [a, b] = await Promise.all([startSshd("a"), startSshd("b")]);
    kh = knownHosts("known_hosts", [line(a), line(b)]);
    root = await SshHost.connect(host("master-2", a, { knownHostsFile: kh }));
  });

  after(async () => {
    await root?.close();
    await Promise.all(sshds.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  describe("exec", () => {
    it("returns exit code, stdout and stderr, and feeds stdin", async () => {
      assert.deepEqual(await root.exec(["sh", "-c", "echo out; echo err >&2; exit 3"]), {
        code: 3,
        stdout: "out\n",
        stderr: "err\n",
      });
      assert.equal((await root.exec(["cat"], { stdin: "from stdin" })).stdout, "from stdin");
      assert.equal((await root.exec("echo $((1+2)) | tr 3 x")).stdout, "x\n");
    });

    it("passes argv through the remote shell unchanged", async () => {
      const words = ["a b", "it's", "$HOME", "`id`", "", "*"];
      const r = await root.exec(["printf", "[%s]", ...words]);
      assert.equal(r.stdout, words.map((w) => `[${w}]`).join(""));
    });

    it("times out a command that runs too long", async () => {
      const started = Date.now();
      await assert.rejects(
        root.exec(["sleep", "10"], { timeoutMs: 300 }),
        /host master-2 \(127.0.0.1:\d+\): `sleep 10`: timed out after 0.3s/,
      );
      assert.ok(Date.now() - started < 2000);
      assert.equal((await root.exec(["true"])).code, 0, "the connection survives a timed-out command");
    });

    it("run() throws naming host, command, exit code and stderr's tail", async () => {
      assert.equal(await root.run(["echo", "ok"]), "ok\n");
      await assert.rejects(
        root.run(["sh", "-c", "echo first >&2; echo last >&2; exit 4"]),
        /^KubehaError: host master-2 \(127.0.0.1:\d+\): `sh -c 'echo first >&2; echo last >&2; exit 4'` failed \(exit 4\): first \| last$/,
      );
    });

    it("reuses one connection for every command and file", async () => {
      const h = await SshHost.connect(host("reuse", b, { knownHostsFile: kh }));
      const before = connections(b);
      await Promise.all(Array.from({ length: 20 }, (_, i) => h.run(["echo", String(i)])));
      await h.writeFile(join(dir, "reuse.txt"), "x");
      await h.readFile(join(dir, "reuse.txt"));
      assert.equal(connections(b), before, "no new TCP connection after connect");
      await h.close();
    });
  });

  describe("files", () => {
    it("writes atomically with mode, owner and parents, and reads it back", async () => {
      const path = join(dir, "files/new/dir/secret.key");
      await root.writeFile(path, "secret\n", { mode: 0o600, owner: "65534:65534" });
      const st = statSync(path);
      assert.equal(st.mode & 0o777, 0o600);
      assert.equal(st.uid, 65534);
      assert.equal(st.gid, 65534);
      assert.equal((await root.readFile(path))?.toString(), "secret\n");
      await root.writeFile(path, "default owner");
      const again = statSync(path);
      assert.deepEqual([again.mode & 0o777, again.uid, again.gid], [0o644, 0, 0]);
      assert.deepEqual(
        execFileSync("ls", ["-A", join(dir, "files/new/dir")], { encoding: "utf8" }).trim(),
        "secret.key",
        "no temp file left behind",
      );
    });

    it("writes several files with one install command: each with its mode, owner and backup", async () => {
      const base = join(dir, "files/many");
      await root.writeFile(join(base, "admin.conf"), "old admin");
      await root.writeFiles([
        { path: join(base, "pki/ca.key"), data: "key", options: { mode: 0o600 } },
        { path: join(base, "pki/etcd/peer.crt"), data: Buffer.from([0, 1, 2, 255]) },
        {
          path: join(base, "admin.conf"),
          data: "new admin",
          options: { mode: 0o600, owner: "65534:65534", backup: true },
        },
      ]);
      assert.equal(readFileSync(join(base, "pki/ca.key"), "utf8"), "key");
      assert.equal(statSync(join(base, "pki/ca.key")).mode & 0o777, 0o600);
      assert.deepEqual([...readFileSync(join(base, "pki/etcd/peer.crt"))], [0, 1, 2, 255]);
      assert.equal(statSync(join(base, "pki/etcd/peer.crt")).mode & 0o777, 0o644);
      const admin = statSync(join(base, "admin.conf"));
      assert.deepEqual([admin.mode & 0o777, admin.uid, admin.gid], [0o600, 65534, 65534]);
      assert.equal(readFileSync(join(base, "admin.conf"), "utf8"), "new admin");
      const kept = readdirSync(base).filter((f) => /^admin\.conf\.kubeha-\d{8}T\d{6}Z\.bak$/.test(f));
      assert.equal(kept.length, 1);
      assert.equal(readFileSync(join(base, kept[0]!), "utf8"), "old admin");
      assert.deepEqual(
        readdirSync(base).filter((f) => f.startsWith(".")),
        [],
        "no temp file left behind",
      );
    });

    it("keeps a backup of the replaced file when asked", async () => {
      const path = join(dir, "files/kubelet.conf");
      await root.writeFile(path, "old");
      await root.writeFile(path, "new", { backup: true });
      const backups = execFileSync("ls", [join(dir, "files")], { encoding: "utf8" })
        .split("\n")
        .filter((f) => /^kubelet\.conf\.kubeha-\d{8}T\d{6}Z\.bak$/.test(f));
      assert.equal(backups.length, 1);
      assert.equal(readFileSync(join(dir, "files", backups[0]!), "utf8"), "old");
      assert.equal(readFileSync(path, "utf8"), "new");
    });

    it("keeps the backup in another directory when asked: mode kept, nothing beside the file", async () => {
      const manifests = join(dir, "files/manifests");
      const path = join(manifests, "etcd.yaml");
      const aside = join(dir, "files/tmp/kubeha-20261204T120000Z");
      await root.writeFile(path, "old", { mode: 0o600 });
      await root.writeFile(path, "new", { mode: 0o600, backup: { dir: aside } });
      await root.writeFile(path, "newer", { mode: 0o600, backup: { dir: aside } });
      assert.equal(execFileSync("ls", ["-A", manifests], { encoding: "utf8" }).trim(), "etcd.yaml");
      assert.equal(readFileSync(path, "utf8"), "newer");
      const backup = join(aside, "etcd.yaml");
      assert.equal(readFileSync(backup, "utf8"), "old", "the first copy is kept, not overwritten");
      assert.equal(statSync(backup).mode & 0o777, 0o600);
      assert.equal(statSync(aside).mode & 0o777, 0o700);
    });

    it("round-trips binary content; a missing file reads as undefined", async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await root.writeFile(join(dir, "files/bin"), bytes);
      assert.deepEqual(await root.readFile(join(dir, "files/bin")), bytes);
      assert.equal(await root.readFile(join(dir, "files/does-not-exist")), undefined);
    });
  });

  describe("sudo", () => {
    // A NOPASSWD sudoer would need a change in /etc/sudoers.d; root with sudo: true exercises the same path.
    it("runs commands and file operations through sudo -n", async () => {
      const h = await SshHost.connect(host("sudo", a, { knownHostsFile: kh, sudo: true }));
      try {
        assert.equal(await h.run("echo $SUDO_USER"), "root\n", "ran under sudo");
        assert.equal(await h.run("echo ${SUDO_USER:-none}", { sudo: false }), "none\n");
        const path = join(dir, "sudo/etc/file.conf");
        await h.writeFile(path, "via sudo", { mode: 0o640, backup: true });
        await h.writeFile(path, "via sudo again", { mode: 0o640, backup: true });
        assert.equal(statSync(path).mode & 0o777, 0o640);
        assert.equal((await h.readFile(path))?.toString(), "via sudo again");
        assert.equal(await h.readFile(join(dir, "sudo/missing")), undefined);
        // Several at once in one command: contents byte for byte, an empty file, a missing one.
        const bin = join(dir, "sudo/etc/bin");
        const bytes = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 37) % 256));
        writeFileSync(bin, bytes);
        writeFileSync(join(dir, "sudo/etc/empty"), "");
        const many = await h.readFiles([path, join(dir, "sudo/missing"), bin, join(dir, "sudo/etc/empty")]);
        assert.equal(many.get(path)?.toString(), "via sudo again");
        assert.equal(many.get(join(dir, "sudo/missing")), undefined);
        assert.ok(many.get(bin)?.equals(bytes));
        assert.equal(many.get(join(dir, "sudo/etc/empty"))?.length, 0);
        await assert.rejects(h.readFiles([path, join(dir, "sudo/etc")]), /read 2 files: .*Is a directory/);
      } finally {
        await h.close();
      }
    });

    it("says so when sudo asks for a password", async (t) => {
      // Any local non-root login user who is not a NOPASSWD sudoer will do; none is created.
      const user = readFileSync("/etc/passwd", "utf8")
        .split("\n")
        .map((l) => l.split(":"))
        .find((f) => Number(f[2]) >= 1000 && Number(f[2]) < 65534 && /\/(ba|da)?sh$/.test(f[6] ?? ""))?.[0];
      const canSudo =
        user && execFileSync("sudo", ["-l", "-U", user], { encoding: "utf8" }).includes("NOPASSWD");
      if (!user || canSudo) return t.skip("no local login user without passwordless sudo");
      const h = await SshHost.connect(host("pw", a, { knownHostsFile: kh, user, sudo: true })).catch(
        (err: Error) => {
          t.skip(`cannot log in as ${user}: ${err.message}`);
        },
      );
      if (!h) return;
      try {
        await assert.rejects(
          h.exec(["true"]),
          new RegExp(
            `sudo requires a password for user ${user}; kubeha needs passwordless sudo \\(NOPASSWD\\)`,
          ),
        );
      } finally {
        await h.close();
      }
    });
  });

  describe("forward", () => {
    let echo: Server;
    before(async () => {
      echo = createServer((s) => s.pipe(s));
      await new Promise<void>((r) => echo.listen(0, "127.0.0.1", () => r()));
    });
    after(() => new Promise<void>((r) => echo.close(() => r())));

    it("tunnels a local port to a port on the host's loopback", async () => {
      const f = await root.forward((echo.address() as { port: number }).port);
      const reply = await Promise.all(
        ["one", "two"].map(
          (word) =>
            new Promise<string>((resolve, reject) => {
              const s = tcpConnect(f.localPort, "127.0.0.1", () => s.write(word));
              s.on("data", (d) => {
                resolve(d.toString());
                s.destroy();
              });
              s.on("error", reject);
            }),
        ),
      );
      assert.deepEqual(reply, ["one", "two"]);
      await f.close();
      await assert.rejects(
        new Promise<void>((resolve, reject) =>
          tcpConnect(f.localPort, "127.0.0.1", () => resolve()).on("error", reject),
        ),
        /ECONNREFUSED/,
      );
    });
  });

  describe("host keys", () => {
    it("refuses an unknown key, showing its fingerprint", async () => {
      const empty = knownHosts("kh-empty", []);
      await assert.rejects(
        SshHost.connect(host("master-9", a, { knownHostsFile: empty })),
        new RegExp(
          `^InputError: host master-9 \\(127.0.0.1:${a.port}\\): host key unknown: server offered ${escape(fingerprint(a.hostKey))} \\(ssh-ed25519\\), which is not in ${empty};`,
        ),
      );
    });

    it("a refused key is bad input (exit 2), never an unreachable host", async () => {
      const other = Buffer.from(readFileSync(`${dir}/b/host_key.pub`, "utf8").split(" ")[1]!, "base64");
      for (const file of [knownHosts("kh-none", []), knownHosts("kh-other", [line(a, other)])]) {
        await assert.rejects(SshHost.connect(host("w", a, { knownHostsFile: file })), (err: unknown) => {
          assert.ok(err instanceof InputError, String(err));
          assert.ok(!(err instanceof UnreachableError));
          assert.equal(err.exitCode, ExitCode.badInput);
          return true;
        });
      }
      await assert.rejects(
        connectAll([
          host("good", a, { knownHostsFile: kh }),
          host("w", a, { knownHostsFile: knownHosts("kh-none2", []) }),
        ]),
        (err: unknown) => {
          assert.equal((err as InputError).exitCode, ExitCode.badInput);
          assert.match(
            (err as Error).message,
            /^cannot connect to 1 of 2 hosts: host w \(127.0.0.1:\d+\): host key unknown/,
          );
          return true;
        },
      );
    });

    it("refuses a changed key, always, with both fingerprints", async () => {
      const other = Buffer.from(readFileSync(`${dir}/b/host_key.pub`, "utf8").split(" ")[1]!, "base64");
      const stale = knownHosts("kh-stale", [line(a, other)]);
      for (const acceptNewHostKeys of [false, true]) {
        await assert.rejects(
          SshHost.connect(host("master-2", a, { knownHostsFile: stale, acceptNewHostKeys })),
          new RegExp(
            `host master-2 \\(127.0.0.1:${a.port}\\): host key mismatch: known_hosts has ${escape(fingerprint(other))}, server offered ${escape(fingerprint(a.hostKey))} — possible man-in-the-middle; if the host was reinstalled, remove its line from ${stale} \\(line 1\\)`,
          ),
        );
      }
      assert.equal(readFileSync(stale, "utf8"), `${line(a, other)}\n`, "known_hosts untouched");
    });

    it("refuses a revoked key", async () => {
      const revoked = knownHosts("kh-revoked", [
        `@revoked * ssh-ed25519 ${a.hostKey.toString("base64")}`,
        line(a),
      ]);
      await assert.rejects(
        SshHost.connect(host("m", a, { knownHostsFile: revoked })),
        /is marked @revoked in .*kh-revoked \(line 1\)/,
      );
    });

    it("accepts a new key when asked, recording it plain or hashed like the file", async () => {
      const plain = knownHosts("kh-plain", [
        "other.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPalE+8msGn4YHeH2IkoZh4gptgd5LnWmgURULIMTntC",
      ]);
      await (await SshHost.connect(host("m", a, { knownHostsFile: plain, acceptNewHostKeys: true }))).close();
      assert.ok(readFileSync(plain, "utf8").endsWith(`${line(a)}\n`));
      await (await SshHost.connect(host("m", a, { knownHostsFile: plain }))).close();

      const hashed = knownHosts("kh-hashed", [
        "|1|xgtgqf17oUnQH1BPTYrB+kSiqC0=|t3Bi/SpWumnsXyO+yDxV9MuQXBU= ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPalE+8msGn4YHeH2IkoZh4gptgd5LnWmgURULIMTntC",
      ]);
      await (
        await SshHost.connect(host("m", a, { knownHostsFile: hashed, acceptNewHostKeys: true }))
      ).close();
      const added = readFileSync(hashed, "utf8").trim().split("\n")[1]!;
      assert.match(added, new RegExp(`^\\|1\\|\\S+ ssh-ed25519 ${escape(a.hostKey.toString("base64"))}$`));
      // ssh itself must find it: the file stays OpenSSH's.
      const found = execFileSync("ssh-keygen", ["-F", `[127.0.0.1]:${a.port}`, "-f", hashed], {
        encoding: "utf8",
      });
      assert.match(found, /found: line 2/);
    });

    it("checks a pinned fingerprint instead of known_hosts", async () => {
      await (await SshHost.connect(host("m", a, { hostKeyFingerprint: fingerprint(a.hostKey) }))).close();
      await assert.rejects(
        SshHost.connect(host("m", a, { hostKeyFingerprint: fingerprint(b.hostKey) })),
        /host key mismatch: the inventory pins SHA256:\S+, server offered SHA256:\S+ — possible man-in-the-middle/,
      );
    });
  });

  describe("connection errors", () => {
    it("names the user and key file on failed authentication, never the key", async () => {
      await assert.rejects(
        SshHost.connect(host("m", a, { knownHostsFile: kh, identityFile: wrongKey })),
        (err: Error) => {
          assert.match(
            err.message,
            new RegExp(
              `^host m \\(127.0.0.1:${a.port}\\): authentication failed for user root with key ${wrongKey}$`,
            ),
          );
          assert.ok(!err.message.includes(readFileSync(wrongKey, "utf8").split("\n")[1]!.slice(0, 20)));
          return true;
        },
      );
    });

    it("refuses an encrypted key without an agent, naming the file: bad input", async () => {
      const encrypted = join(dir, "encrypted_ed25519");
      keygen(encrypted, "passphrase");
      await assert.rejects(
        SshHost.connect(host("m", a, { knownHostsFile: kh, identityFile: encrypted })),
        new RegExp(
          `identity file ${encrypted} is encrypted; kubeha does not ask for passphrases: add it to ssh-agent`,
        ),
      );
      for (const identityFile of [encrypted, join(dir, "no-such-key"), `${key}.pub`]) {
        await assert.rejects(
          SshHost.connect(host("m", a, { knownHostsFile: kh, identityFile })),
          (err: unknown) =>
            err instanceof InputError && err.message.includes(`identity file ${identityFile}`),
        );
      }
    });

    it("refuses a key file others may read, as ssh does, before connecting", async () => {
      const open = join(dir, "open_ed25519");
      copyFileSync(key, open);
      chmodSync(open, 0o644);
      await assert.rejects(
        SshHost.connect(host("m", a, { knownHostsFile: kh, identityFile: open })),
        (err: unknown) =>
          err instanceof InputError &&
          err.message.endsWith(
            `identity file ${open} is readable by others (mode 0644); ssh refuses such a key too: chmod 600 it`,
          ),
      );
      assert.equal(localKeyState(open), "too-open");
      chmodSync(open, 0o600);
      assert.equal(localKeyState(open), "ok");
    });

    it("only a host that cannot be reached at all is an UnreachableError", async () => {
      const port = await freePort();
      await assert.rejects(SshHost.connect(host("m", { port }, { knownHostsFile: kh })), UnreachableError);
      const failed = await SshHost.connect(
        host("m", a, { knownHostsFile: kh, identityFile: wrongKey }),
      ).catch((err: unknown) => err);
      assert.ok(failed instanceof Error && !(failed instanceof UnreachableError), String(failed));
      assert.match(failed.message, /authentication failed/);
    });

    it("says connection refused for a closed port", async () => {
      const port = await freePort();
      await assert.rejects(
        SshHost.connect(host("m", { port }, { knownHostsFile: kh })),
        new RegExp(`host m \\(127.0.0.1:${port}\\): connection refused on port ${port}`),
      );
    });

    it("says timed out when the server never answers", async () => {
      const silent = createServer(() => undefined);
      await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
      const port = (silent.address() as { port: number }).port;
      try {
        await assert.rejects(
          SshHost.connect(host("m", { port }, { knownHostsFile: kh, connectTimeoutSeconds: 1 })),
          /host m \(127.0.0.1:\d+\): connection timed out after 1s \(connectTimeoutSeconds\)/,
        );
      } finally {
        silent.close();
      }
    });

    it("connectAll opens hosts in parallel and reports every failure", async () => {
      const ok = await connectAll(
        [host("h1", a, { knownHostsFile: kh }), host("h2", b, { knownHostsFile: kh })],
        { concurrency: 2 },
      );
      assert.deepEqual(
        ok.map((h) => h.name),
        ["h1", "h2"],
      );
      await closeAll(ok);
      const closed = await freePort();
      await assert.rejects(
        connectAll([
          host("good", a, { knownHostsFile: kh }),
          host("bad1", { port: closed }, { knownHostsFile: kh }),
          host("bad2", a, { knownHostsFile: kh, identityFile: wrongKey }),
        ]),
        (err: Error) => {
          const lines = err.message.split("\n");
          assert.equal(lines[0], "cannot connect to 2 of 3 hosts:");
          assert.match(lines[1]!, /^host bad1 .*connection refused/);
          assert.match(lines[2]!, /^host bad2 .*authentication failed/);
          return true;
        },
      );
    });
  });

  describe("a host that stops answering (link down)", () => {
    const BOUND = 2;
    const through = async (name: string, r: { port: number }, observer?: SshObserver) =>
      SshHost.connect(
        host(name, r, {
          knownHostsFile: knownHosts(`kh-relay-${r.port}`, [line({ ...a, port: r.port })]),
          stallTimeoutSeconds: BOUND,
        }),
        { ...(observer && { observer }) },
      );

    it("a long silent command is not cut short while the host answers; the observer sees it", async () => {
      const r = await relay(a.port);
      const seen = recorder();
      const h = await through("busy", r, seen);
      try {
        const started = Date.now();
        assert.equal((await h.exec(["sleep", String(BOUND * 2)])).code, 0);
        assert.ok(Date.now() - started >= BOUND * 2000);
        assert.ok(
          seen.seen.some((x) => /^busy `sleep 4` [1-4]s$/.test(x)),
          seen.seen.join("; "),
        );
        assert.equal(seen.seen.at(-1), "busy `sleep 4` done");
      } finally {
        await h.close();
        await r.close();
      }
    });

    it("a command on a stalled link fails after the bound, naming host, command and seconds", async () => {
      const r = await relay(a.port);
      const seen = recorder();
      const h = await through("w1", r, seen);
      try {
        assert.equal(await h.run(["echo", "up"]), "up\n");
        r.cut();
        const started = Date.now();
        await assert.rejects(
          h.run(["systemctl", "restart", "kubelet"]),
          new RegExp(
            `^KubehaError: host w1 \\(127.0.0.1:${r.port}\\): \`systemctl restart kubelet\`: no answer from the host for ${BOUND}s \\(ssh.stallTimeoutSeconds\\)$`,
          ),
        );
        const ms = Date.now() - started;
        assert.ok(ms >= ((BOUND * 2) / 3) * 1000 - 100 && ms <= BOUND * 1000 + 1500, `failed after ${ms} ms`);
        assert.ok(
          seen.seen.some((x) => /^w1 `systemctl restart kubelet` [1-2]s$/.test(x)),
          seen.seen.join("; "),
        );
        // Later calls fail at once, for the same reason.
        await assert.rejects(
          h.readFile("/etc/hostname"),
          /read \/etc\/hostname: no answer from the host for 2s/,
        );
      } finally {
        await h.close();
        await r.close();
      }
    });

    it("a file write on a stalled link fails after the bound, naming the file", async () => {
      const r = await relay(a.port);
      const h = await through("w2", r);
      try {
        await h.writeFile(join(dir, "stall-before"), "x");
        r.cut();
        const started = Date.now();
        await assert.rejects(
          h.writeFile(join(dir, "stall.conf"), Buffer.alloc(256 * 1024, 1)),
          new RegExp(
            `host w2 \\(127.0.0.1:${r.port}\\): write ${dir}/stall.conf: no answer from the host for ${BOUND}s`,
          ),
        );
        assert.ok(Date.now() - started <= BOUND * 1000 + 1500);
      } finally {
        await h.close();
        await r.close();
      }
    });
  });

  describe("jump host", () => {
    it("reaches the target through the jump host, verifying both keys", async () => {
      const jumpBefore = connections(b);
      const targetBefore = connections(a);
      const h = await SshHost.connect(
        host("behind", a, {
          knownHostsFile: kh,
          jumpHost: { address: "127.0.0.1", port: b.port, user: "root", identityFile: key },
        }),
      );
      try {
        assert.equal(await h.run(["echo", "through"]), "through\n");
        assert.equal(connections(b), jumpBefore + 1);
        assert.equal(connections(a), targetBefore + 1);
        // The target's client socket belongs to the jump host's sshd, not to us.
        const from = [...a.log().matchAll(/Connection from 127\.0\.0\.1 port (\d+)/g)].at(-1)![1];
        const owner = execFileSync("ss", ["-tnpH", "state", "established", `( sport = :${from} )`], {
          encoding: "utf8",
        });
        assert.match(owner, /"sshd"/);
      } finally {
        await h.close();
      }
      const wrongJumpKey = knownHosts("kh-jump", [line(a), line(b, a.hostKey)]);
      await assert.rejects(
        SshHost.connect(
          host("behind", a, {
            knownHostsFile: wrongJumpKey,
            jumpHost: { address: "127.0.0.1", port: b.port, user: "root" },
          }),
        ),
        new RegExp(`host behind \\(127.0.0.1:${a.port}\\): jump host 127.0.0.1:${b.port}: host key mismatch`),
      );
    });
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
