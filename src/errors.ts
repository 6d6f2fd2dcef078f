/** Exit codes are part of the interface: automation branches on them. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  badInput: 2,
  interrupted: 3,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/**
 * An error the operator is meant to read: one line, naming where it happened (host, file, field).
 * Only the CLI entry point turns it into an exit code.
 */
export class KubehaError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = ExitCode.failed,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "KubehaError";
  }
}

/** Bad input or a refusal by preflight: nothing was changed. */
export class InputError extends KubehaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.badInput, options);
    this.name = "InputError";
  }
}

/** Prefix an error with what was being done, keeping the cause: "host master-2: read /etc/...: ENOENT". */
export function wrap(context: string, err: unknown): KubehaError {
  const message = err instanceof Error ? err.message : String(err);
  const exitCode = err instanceof KubehaError ? err.exitCode : ExitCode.failed;
  return new KubehaError(`${context}: ${message}`, exitCode, { cause: err });
}
