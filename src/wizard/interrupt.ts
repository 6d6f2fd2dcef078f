import { KubehaError } from "../errors.js";

/** Ctrl-C while the wizard is working between questions (probing, planning). */
export class Cancelled extends Error {
  constructor() {
    super("cancelled");
    this.name = "Cancelled";
  }
}

/** Inquirer throws ExitPromptError for Ctrl-C at a question; our own SIGINT handler aborts the rest. */
export function isCancel(err: unknown): boolean {
  return (
    err instanceof Cancelled ||
    (err instanceof Error && (err.name === "ExitPromptError" || err.name === "AbortPromptError"))
  );
}

/**
 * Ctrl-C between questions (the terminal is not in raw mode then, so it is a SIGINT): aborts whatever
 * the wizard is waiting for, so it can say that nothing was changed instead of dying mid-line.
 */
export class Interrupt {
  private readonly controller = new AbortController();
  private readonly onSigint = (): void => this.controller.abort();

  constructor() {
    process.on("SIGINT", this.onSigint);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  race<T>(work: Promise<T>): Promise<T> {
    const signal = this.controller.signal;
    if (signal.aborted) return Promise.reject(new Cancelled());
    return new Promise<T>((resolvePromise, reject) => {
      const onAbort = (): void => reject(new Cancelled());
      signal.addEventListener("abort", onAbort, { once: true });
      work.then(resolvePromise, reject).finally(() => signal.removeEventListener("abort", onAbort));
    });
  }

  dispose(): void {
    process.off("SIGINT", this.onSigint);
  }
}

export function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KubehaError(`${what}: no answer within ${ms / 1000}s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** The first line of an error's message: what the wizard shows under a question. */
export function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}
