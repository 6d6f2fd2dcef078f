/** One line of a verification report. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  /** Passed, but something the operator must know (e.g. a single point of failure that was not tested). */
  warning?: boolean;
}

/** Runs one check: its detail on success, the error's message on failure; never throws. */
export async function check(name: string, fn: () => Promise<string>): Promise<Check> {
  try {
    return { name, ok: true, detail: await fn() };
  } catch (err) {
    return { name, ok: false, detail: err instanceof Error ? err.message : String(err) };
  }
}

export function fail(message: string): never {
  throw new Error(message);
}
