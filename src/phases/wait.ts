import { KubehaError } from "../errors.js";

export interface PollOptions {
  timeoutMs: number;
  /** For the timeout message: "apiserver /readyz on master-2". */
  what: string;
  /** The last reason the condition was false, for the timeout message. */
  lastError?: () => string;
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * Polls `condition` with backoff until it is true or the deadline passes: nothing in kubeha waits on
 * a fixed sleep when it can ask the real thing. A condition that throws counts as false.
 */
export async function pollUntil(condition: () => Promise<boolean>, options: PollOptions): Promise<void> {
  const deadline = Date.now() + options.timeoutMs;
  let delay = options.minDelayMs ?? 100;
  let lastThrown = "";
  for (;;) {
    try {
      if (await condition()) return;
    } catch (err) {
      lastThrown = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() + delay > deadline) {
      const why = options.lastError?.() || lastThrown;
      throw new KubehaError(
        `timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${options.what}${why ? `: ${why}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(options.maxDelayMs ?? 2000, delay * 2);
  }
}
