import type { Client } from "ssh2";
import { KubehaError } from "../errors.js";

/** A command's outcome with its output as bytes (file contents read through `cat` are binary). */
export interface RawResult {
  code: number;
  signal?: string;
  stdout: Buffer;
  stderr: Buffer;
}

/**
 * Runs one already-quoted command line on an open connection. stdin is always closed, so a command that
 * reads it cannot hang; after `timeoutMs` the remote process is killed and the call rejects.
 * `what` ("host master-2: `cmd`") starts the error messages.
 */
export function execRaw(
  client: Client,
  commandLine: string,
  what: string,
  options: { stdin?: string | Buffer; timeoutMs: number },
): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    client.exec(commandLine, (err, channel) => {
      if (err) return reject(new KubehaError(`${what}: cannot start it: ${err.message}`));
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let code: number | undefined;
      let signal: string | undefined;
      const timer = setTimeout(() => {
        // Both: OpenSSH honours the signal request, and closing the channel hangs up the session.
        channel.signal("KILL");
        channel.close();
        reject(new KubehaError(`${what}: timed out after ${options.timeoutMs / 1000}s`));
      }, options.timeoutMs);
      channel.on("data", (chunk: Buffer) => stdout.push(chunk));
      channel.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
      channel.on("exit", (exitCode: number | null, signalName?: string) => {
        code = exitCode ?? undefined;
        signal = signalName ?? undefined;
      });
      channel.on("close", () => {
        clearTimeout(timer);
        // No exit status at all: the connection dropped under the command, which may or may not have run.
        if (code === undefined && signal === undefined) {
          return reject(new KubehaError(`${what}: the connection closed before the command finished`));
        }
        resolve({
          code: code ?? 128,
          ...(signal !== undefined && { signal }),
          stdout: Buffer.concat(stdout),
          stderr: Buffer.concat(stderr),
        });
      });
      channel.end(options.stdin);
    });
  });
}
