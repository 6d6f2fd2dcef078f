/**
 * Waiting and retrying, written once: a loop that asks again until something holds goes through
 * `pollUntil`, one that repeats a call after a known transient refusal goes through `retry`, one that
 * keeps its own last result or gives up in its own words through `attemptWithBackoff`; all back off
 * and stop at a deadline or a number of attempts.
 */
import { KubehaError } from "./errors.js";

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Backoff {
  /** First and largest delay between attempts (default 100 ms and 2000 ms); doubled each time. */
  minDelayMs?: number;
  maxDelayMs?: number;
}

/**
 * For a wait that holds up the steps after it (a learner starting, a promotion, an apiserver or a
 * kubelet coming back): asked every tenth of a second. Each ask is one cheap read; a quarter-second
 * back-off lost about an eighth of a second per wait, and a conversion has about ten of them in a row.
 */
export const CLOSE_POLL: Readonly<Backoff> = { minDelayMs: 50, maxDelayMs: 100 };

export interface PollOptions extends Backoff {
  timeoutMs: number;
  /** For the timeout message: "apiserver /readyz on master-2". */
  what: string;
  /** The last reason the condition was false, for the timeout message. */
  lastError?: () => string;
}

/**
 * Polls `condition` with backoff until it is true or the deadline passes: nothing in kubeha waits on
 * a fixed sleep when it can ask the real thing. A condition that throws counts as false.
 */
export async function pollUntil(condition: () => Promise<boolean>, options: PollOptions): Promise<void> {
  let lastThrown = "";
  const done = await attemptWithBackoff(
    async () => {
      try {
        return await condition();
      } catch (err) {
        lastThrown = err instanceof Error ? err.message : String(err);
        return false;
      }
    },
    { ...options, deadline: Date.now() + options.timeoutMs },
  );
  if (done) return;
  const why = options.lastError?.() || lastThrown;
  throw new KubehaError(
    `timed out after ${Math.round(options.timeoutMs / 1000)}s waiting for ${options.what}${why ? `: ${why}` : ""}`,
  );
}

export interface RetryOptions extends Backoff {
  /** Only errors this accepts are tried again; any other is thrown at once. */
  retryIf: (err: unknown) => boolean;
  /** Stop trying after this long or this many attempts (the last error is thrown). */
  timeoutMs?: number;
  attempts?: number;
}

/** Calls `fn` until it returns, trying again after the errors `retryIf` accepts. */
export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  let result: { value: T } | undefined;
  let lastError: unknown;
  let attempt = 0;
  await attemptWithBackoff(
    async () => {
      try {
        result = { value: await fn(attempt++) };
        return true;
      } catch (err) {
        if (!options.retryIf(err)) throw err;
        lastError = err;
        return false;
      }
    },
    {
      ...options,
      deadline: options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs,
      attempts: options.attempts,
    },
  );
  if (result) return result.value;
  throw lastError;
}

/**
 * Runs `once` until it returns true (then true), or a next attempt would pass the deadline or
 * attempts run out (then false); what `once` throws ends it. For a loop that must keep its own last
 * result or give up in its own words; pollUntil and retry are this with a timeout message.
 */
export async function attemptWithBackoff(
  once: () => Promise<boolean>,
  options: Backoff & { deadline: number; attempts?: number },
): Promise<boolean> {
  let delay = options.minDelayMs ?? 100;
  for (let n = 1; ; n++) {
    if (await once()) return true;
    if (n === options.attempts || Date.now() + delay > options.deadline) return false;
    await sleep(delay);
    delay = Math.min(options.maxDelayMs ?? 2000, delay * 2);
  }
}
