import type { SFTPWrapper } from "ssh2";
import { KubehaError } from "../errors.js";
import { retry } from "../poll.js";
import type { InventoryHost } from "../inventory/types.js";
import { connect, hostLabel, type Connection } from "./connect.js";
import { execRaw, type RawResult } from "./exec.js";
import {
  readRemoteFile,
  readRemoteFiles,
  tail,
  writeRemoteFile,
  writeRemoteFiles,
  type FileChannel,
} from "./files.js";
import { forwardPort } from "./forward.js";
import { limiter } from "./limit.js";
import { shellQuote } from "./shell-quote.js";
import type {
  ExecOptions,
  ExecResult,
  FileWrite,
  Forward,
  Host,
  SshObserver,
  WriteOptions,
} from "./types.js";

// OpenSSH allows 10 sessions per connection (MaxSessions); the SFTP session holds one of them.
const maxParallelCommands = 6;
const defaultTimeoutMs = 60_000;
/** An operation still running after this long (or a third of the stall bound) is shown, then every second. */
const waitNoticeMs = 2000;

/**
 * A host reached over one SSH connection, reused by every command, file and tunnel of a run.
 * Privileged work goes through `sudo -n` when the inventory sets `sudo: true`.
 */
export class SshHost implements Host {
  readonly name: string;
  readonly address: string;
  readonly hostKey: string;
  private readonly label: string;
  private readonly gate = limiter(maxParallelCommands);
  private sftpSession: Promise<SFTPWrapper> | undefined;
  private closed = false;
  private closing = false;
  /** Why the connection went away under us ("no answer from the host for 30s ..."), once it has. */
  private lost: string | undefined;

  private constructor(
    readonly host: InventoryHost,
    private readonly connection: Connection,
    private readonly observer?: SshObserver,
  ) {
    this.name = host.name;
    this.address = host.address;
    this.hostKey = connection.hostKey;
    this.label = hostLabel(host);
    connection.client.on("close", () => {
      this.closed = true;
      if (!this.closing) this.lost ??= "the connection was closed by the host";
    });
    const bound = `no answer from the host for ${host.ssh.stallTimeoutSeconds}s (ssh.stallTimeoutSeconds)`;
    const onError = (via: string) => (err: Error & { level?: string }) => {
      // ssh2 ends a connection whose keepalives went unanswered with a client-timeout error.
      this.lost ??= `${via}${err.level === "client-timeout" ? bound : `connection lost: ${err.message}`}`;
    };
    connection.client.on("error", onError(""));
    connection.jump?.on("error", onError("jump host: "));
  }

  /** Opens the connection (through the jump host, if any); rejects with a message naming the host. */
  static async connect(host: InventoryHost, options: { observer?: SshObserver } = {}): Promise<SshHost> {
    return new SshHost(host, await connect(host), options.observer);
  }

  /** Runs argv (quoted) or a string (given to `sh -c`); as root unless `sudo: false`. Never throws on exit codes. */
  async exec(command: string[] | string, options: ExecOptions = {}): Promise<ExecResult> {
    const r = await this.track(`\`${brief(command)}\``, () => this.execBytes(command, options));
    return { ...r, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
  }

  /** Like exec, but a non-zero exit throws naming the host, the command, the exit code and stderr's tail. */
  async run(command: string[] | string, options: ExecOptions = {}): Promise<string> {
    const r = await this.exec(command, options);
    if (r.code !== 0) {
      const how = r.signal ? `killed by ${r.signal}` : `exit ${r.code}`;
      throw new KubehaError(`${this.label}: \`${display(command)}\` failed (${how}): ${tail(r.stderr)}`);
    }
    return r.stdout;
  }

  /** The file's content, undefined when it does not exist. */
  readFile(path: string): Promise<Buffer | undefined> {
    return this.track(`read ${path}`, () => readRemoteFile(this.files(), path));
  }

  readFiles(paths: string[]): Promise<Map<string, Buffer | undefined>> {
    return this.track(`read ${paths.length} files`, () => readRemoteFiles(this.files(), paths));
  }

  /**
   * Writes atomically (hidden temp file in the same directory, then rename) with mode and owner (default
   * 0644 root:root), creating parent directories; `backup` keeps the old file (see WriteOptions).
   */
  writeFile(path: string, data: string | Buffer, options?: WriteOptions): Promise<void> {
    return this.track(`write ${path}`, () => writeRemoteFile(this.files(), path, data, options));
  }

  writeFiles(files: FileWrite[]): Promise<void> {
    const what =
      files.length === 1 ? `write ${files[0]!.path}` : `write ${files.length} files in ${commonDir(files)}`;
    return this.track(what, () => writeRemoteFiles(this.files(), files));
  }

  /** A local port on 127.0.0.1 tunnelled to remoteHost:remotePort as this host sees it. */
  forward(remotePort: number, remoteHost = "127.0.0.1"): Promise<Forward> {
    this.assertOpen();
    return forwardPort(this.connection.client, remoteHost, remotePort);
  }

  /** Closes the connection (and the jump host's). Safe to call twice. */
  async close(): Promise<void> {
    const { client, jump } = this.connection;
    this.closing = true;
    if (!this.closed) {
      await new Promise<void>((resolve) => {
        client.once("close", () => resolve());
        client.end();
      });
    }
    jump?.end();
  }

  /**
   * Runs one operation, telling the observer while it takes long; if the connection went away under it,
   * the error says so, naming the operation, rather than whatever the half-done operation saw.
   */
  private async track<T>(what: string, op: () => Promise<T>): Promise<T> {
    const started = Date.now();
    let shown = false;
    let repeat: NodeJS.Timeout | undefined;
    const notice = () => {
      shown = true;
      this.observer?.waiting(this.name, what, Math.round((Date.now() - started) / 1000));
    };
    // Early enough to be seen before a stalled link is given up.
    const first = setTimeout(
      () => {
        notice();
        repeat = setInterval(notice, 1000).unref();
      },
      Math.min(waitNoticeMs, (this.host.ssh.stallTimeoutSeconds * 1000) / 3),
    ).unref();
    try {
      return await op();
    } catch (err) {
      if (this.lost) throw new KubehaError(`${this.label}: ${what}: ${this.lost}`, undefined, { cause: err });
      throw err;
    } finally {
      clearTimeout(first);
      clearInterval(repeat);
      if (shown) this.observer?.waited(this.name, what);
    }
  }

  private async execBytes(command: string[] | string, options: ExecOptions): Promise<RawResult> {
    this.assertOpen();
    const argv = typeof command === "string" ? ["sh", "-c", command] : command;
    const elevate = this.host.ssh.sudo && options.sudo !== false;
    const line = shellQuote(elevate ? ["sudo", "-n", "--", ...argv] : argv);
    const what = `${this.label}: \`${display(command)}\``;
    const r = await this.gate(async () => {
      // sshd frees a finished session slightly after the client sees it close, so a burst of commands
      // can briefly exceed MaxSessions: that refusal is retried, never reported as the command's failure.
      return retry(
        () =>
          execRaw(this.connection.client, line, what, {
            ...(options.stdin !== undefined && { stdin: options.stdin }),
            timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
          }),
        {
          retryIf: (err) => /Channel open failure/.test((err as Error).message),
          attempts: 9,
          minDelayMs: 25,
          maxDelayMs: 3200,
        },
      );
    });
    if (elevate) this.checkSudo(r);
    return r;
  }

  /** sudo's own failures are not the command's: they mean the host is not set up as the inventory says. */
  private checkSudo(r: RawResult): void {
    const err = r.stderr.toString();
    const user = this.host.ssh.user;
    if (r.code === 1 && /^sudo: (a password is required|a terminal is required)/m.test(err)) {
      throw new KubehaError(
        `${this.label}: sudo requires a password for user ${user}; kubeha needs passwordless sudo (NOPASSWD)`,
      );
    }
    if (r.code === 127 && /sudo: (command )?not found/.test(err)) {
      throw new KubehaError(
        `${this.label}: sudo is not installed, but the inventory sets sudo: true for user ${user}`,
      );
    }
  }

  private files(): FileChannel {
    return {
      label: this.label,
      elevated: this.host.ssh.sudo,
      exec: (argv) => this.execBytes(argv, {}),
      sftp: () => this.sftp(),
    };
  }

  /** The connection's one SFTP session, opened on first use. */
  private sftp(): Promise<SFTPWrapper> {
    this.assertOpen();
    this.sftpSession ??= new Promise<SFTPWrapper>((resolve, reject) =>
      this.connection.client.sftp((err, sftp) =>
        err
          ? reject(new KubehaError(`${this.label}: cannot open an SFTP session: ${err.message}`))
          : resolve(sftp),
      ),
    ).catch((err: unknown) => {
      this.sftpSession = undefined;
      throw err;
    });
    return this.sftpSession;
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new KubehaError(
        `${this.label}: the SSH connection is closed${this.lost ? ` (${this.lost})` : ""}`,
      );
    }
  }
}

/** A command on one line, shortened further: for the progress line and the stall error. */
function brief(command: string[] | string): string {
  const text = display(command)
    .replace(/\s*\n\s*/g, "; ")
    .replace(/\s+/g, " ");
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** A command as the operator would type it, shortened: for messages only. */
function display(command: string[] | string): string {
  const text = typeof command === "string" ? command : shellQuote(command);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** The deepest directory holding every file: "/etc/kubernetes" for the PKI and the kubeconfigs. */
function commonDir(files: FileWrite[]): string {
  const parts = files.map((f) => f.path.split("/").slice(0, -1));
  const first = parts[0] ?? [];
  let n = first.length;
  for (const p of parts) while (n > 0 && p.slice(0, n).join("/") !== first.slice(0, n).join("/")) n--;
  return first.slice(0, n).join("/") || "/";
}
