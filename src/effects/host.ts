// A Host that records what changes: writes, and commands marked `changes`. Dry (plan): reads pass
// through to the real host, seeing what earlier recorded writes would have made of a file, and nothing
// changes. Tap (apply): everything is carried out on the real host, and recorded as it is.
import { basename } from "node:path";
import { shellQuote } from "../ssh/shell-quote.js";
import type { ExecOptions, ExecResult, FileWrite, Host, WriteOptions } from "../ssh/types.js";
import { DelegatingHost } from "./delegate.js";
import { describeContent, sha256 } from "./content.js";
import type { EffectSink, FileEffect } from "./types.js";

/** Files as the recorded writes left them, per host and path (null: removed). Shared by a plan's steps. */
export type FileOverlay = Map<string, string | null>;

const BACKUP_TIME = "<time>";

/** Where `backup` keeps a replaced file, with the run's time left as "<time>" (known only when it runs). */
export function backupLocation(path: string, backup: WriteOptions["backup"]): string | undefined {
  if (!backup) return undefined;
  if (backup === true) return `${path}.kubeha-${BACKUP_TIME}.bak`;
  return `${backup.dir.replace(/\/+$/, "")}/${basename(path)}`;
}

export function commandText(command: string[] | string): string {
  return typeof command === "string" ? command : shellQuote(command);
}

export class RecordingHost extends DelegatingHost {
  constructor(
    real: Host,
    private readonly sink: EffectSink,
    /** Dry only: what earlier writes of this plan made of this host's files. */
    private readonly overlay: FileOverlay = new Map(),
  ) {
    super(real);
  }

  override async exec(command: string[] | string, options?: ExecOptions): Promise<ExecResult> {
    if (this.sink.dry && options?.checksWrites) return { code: 0, stdout: "", stderr: "" };
    if (!options?.changes) return this.real.exec(command, options);
    this.sink.record({ kind: "command", host: this.name, command: commandText(command) });
    return this.sink.dry ? { code: 0, stdout: "", stderr: "" } : this.real.exec(command, options);
  }

  override async run(command: string[] | string, options?: ExecOptions): Promise<string> {
    if (this.sink.dry && options?.checksWrites) return "";
    if (!options?.changes) return this.real.run(command, options);
    this.sink.record({ kind: "command", host: this.name, command: commandText(command) });
    return this.sink.dry ? "" : this.real.run(command, options);
  }

  override async readFile(path: string): Promise<Buffer | undefined> {
    if (this.sink.dry && this.overlay.has(path)) {
      const v = this.overlay.get(path);
      return v === null || v === undefined ? undefined : Buffer.from(v);
    }
    return this.real.readFile(path);
  }

  override async readFiles(paths: string[]): Promise<Map<string, Buffer | undefined>> {
    const real = await this.real.readFiles(paths.filter((p) => !(this.sink.dry && this.overlay.has(p))));
    return new Map(
      await Promise.all(
        paths.map(async (p) => [p, real.has(p) ? real.get(p) : await this.readFile(p)] as const),
      ),
    );
  }

  override async writeFile(path: string, data: string | Buffer, options: WriteOptions = {}): Promise<void> {
    const effect = this.recordWrite(path, data, options);
    if (!this.sink.dry) return this.real.writeFile(path, data, options);
    await this.overlayWrite(effect, path, data);
  }

  /** Each file recorded as writeFile records it; carried out together. */
  override async writeFiles(files: FileWrite[]): Promise<void> {
    const effects = files.map((f) => this.recordWrite(f.path, f.data, f.options ?? {}));
    if (!this.sink.dry) return this.real.writeFiles(files);
    for (const [i, f] of files.entries()) await this.overlayWrite(effects[i]!, f.path, f.data);
  }

  private recordWrite(path: string, data: string | Buffer, options: WriteOptions): FileEffect {
    const { secret, summary } = describeContent(data);
    const effect: FileEffect = {
      kind: "file",
      host: this.name,
      path,
      mode: options.mode ?? 0o644,
      owner: options.owner ?? "root:root",
      ...(options.backup ? { backup: backupLocation(path, options.backup) } : {}),
      sha256: sha256(data),
      secret,
      ...(secret ? {} : { content: data.toString() }),
      ...(summary ? { summary } : {}),
    };
    // Recorded when asked for, so effects started together keep the order they were asked in.
    this.sink.record(effect);
    return effect;
  }

  /** A plan's write: what the file was (never a secret's content) and what later reads see. */
  private async overlayWrite(effect: FileEffect, path: string, data: string | Buffer): Promise<void> {
    const before = await this.readFile(path);
    if (!effect.secret) effect.before = before === undefined ? null : before.toString("utf8");
    else if (before === undefined) effect.before = null;
    this.overlay.set(path, data.toString());
  }
}
