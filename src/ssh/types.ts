/** The result of a remote command, whatever its exit code; callers decide what is a failure. */
export interface ExecResult {
  code: number;
  signal?: string;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  /** Run as root (through `sudo -n` when the SSH user is not root). Default true. */
  sudo?: boolean;
  /** Data written to the command's stdin. */
  stdin?: string | Buffer;
  /** Milliseconds before the command is abandoned. Default 60 000. */
  timeoutMs?: number;
  /**
   * The command changes something (restarts a service, moves or removes a file): a plan records it
   * instead of running it. Every other command must only read.
   */
  changes?: boolean;
  /**
   * The command checks files this step has just written (`nginx -t`): a plan, which writes nothing,
   * does not run it and takes it as passed.
   */
  checksWrites?: boolean;
}

/** One file to write: its path, content and options. */
export interface FileWrite {
  path: string;
  data: string | Buffer;
  options?: WriteOptions;
}

export interface WriteOptions {
  /** File mode, e.g. 0o600 for keys. Default 0o644. */
  mode?: number;
  /** "uid:gid" or "user:group"; default root:root. */
  owner?: string;
  /**
   * Keep the file it replaces: `true` as `<path>.kubeha-<timestamp>.bak` next to it; `{ dir }` as
   * `<dir>/<file name>` (created 0700), for a file whose directory must hold nothing else.
   */
  backup?: boolean | { dir: string };
}

export interface Forward {
  /** Port on 127.0.0.1 of the operator's machine. */
  localPort: number;
  close(): Promise<void>;
}

/**
 * Every side effect on a remote machine goes through this interface, so that `plan` can use
 * a host that reads for real and records writes (src/effects/host.ts), and `apply` the SSH one.
 */
export interface Host {
  readonly name: string;
  readonly address: string;
  /** SHA256 fingerprint of the host key this connection verified (none when not connected). */
  readonly hostKey?: string;
  /** argv is quoted for the remote shell; a string is passed to `sh -c` as it is. */
  exec(command: string[] | string, options?: ExecOptions): Promise<ExecResult>;
  /** Like exec, but a non-zero exit throws an error naming the host, the command and stderr. */
  run(command: string[] | string, options?: ExecOptions): Promise<string>;
  /** undefined when the file does not exist. */
  readFile(path: string): Promise<Buffer | undefined>;
  /** Several files at once (through sudo, one remote command for all), each undefined when it does not exist. */
  readFiles(paths: string[]): Promise<Map<string, Buffer | undefined>>;
  writeFile(path: string, data: string | Buffer, options?: WriteOptions): Promise<void>;
  /** Several files, each as writeFile writes it, at once (one remote command installs them all). */
  writeFiles(files: FileWrite[]): Promise<void>;
  forward(remotePort: number, remoteHost?: string): Promise<Forward>;
}

/**
 * Told about SSH operations that take a while, so the operator sees which host kubeha is waiting for
 * and on what (the progress line). Never told anything secret: `what` is a command line or a path.
 */
export interface SshObserver {
  /** `what` ("`systemctl restart kubelet`", "write /etc/...") on `host` has run for `seconds` so far. */
  waiting(host: string, what: string, seconds: number): void;
  /** That operation is over, whatever its outcome. */
  waited(host: string, what: string): void;
}
