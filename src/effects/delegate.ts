import type { ExecOptions, ExecResult, FileWrite, Forward, Host, WriteOptions } from "../ssh/types.js";

/** A Host that passes everything to another: the base of the wrappers that record or guard changes. */
export class DelegatingHost implements Host {
  constructor(protected readonly real: Host) {}
  get name(): string {
    return this.real.name;
  }
  get address(): string {
    return this.real.address;
  }
  get hostKey(): string | undefined {
    return this.real.hostKey;
  }
  exec(command: string[] | string, options?: ExecOptions): Promise<ExecResult> {
    return this.real.exec(command, options);
  }
  run(command: string[] | string, options?: ExecOptions): Promise<string> {
    return this.real.run(command, options);
  }
  readFile(path: string): Promise<Buffer | undefined> {
    return this.real.readFile(path);
  }
  readFiles(paths: string[]): Promise<Map<string, Buffer | undefined>> {
    return this.real.readFiles(paths);
  }
  writeFile(path: string, data: string | Buffer, options?: WriteOptions): Promise<void> {
    return this.real.writeFile(path, data, options);
  }
  writeFiles(files: FileWrite[]): Promise<void> {
    return this.real.writeFiles(files);
  }
  forward(remotePort: number, remoteHost?: string): Promise<Forward> {
    return this.real.forward(remotePort, remoteHost);
  }
}
