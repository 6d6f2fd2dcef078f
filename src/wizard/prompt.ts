import { checkbox, confirm, input, number, select } from "@inquirer/prompts";
import { terminalWidth, wrapText } from "../ui/wrap.js";
import type { Check } from "./validate.js";

/** Room kept on a question's last line for its default and the answer. */
const ANSWER_ROOM = 20;

/**
 * A question's text wrapped at spaces: inquirer would cut it at the terminal's edge mid-word. The
 * lines hang under the text (after "? "), and the last keeps room for the answer.
 */
export function fitQuestion(message: string, width: number): string {
  return wrapText(message, Math.max(20, width - 2 - ANSWER_ROOM));
}

export interface Choice<T> {
  value: T;
  name: string;
  /** What the answered question shows (default: name). */
  short?: string;
  description?: string;
  disabled?: boolean | string;
}

/**
 * The wizard's questions, all cancellable by the wizard's Ctrl-C. Each question is known by a key
 * ("address:master-2"); asked again, its default is the last answer given to it, so a corrected
 * answer stays corrected however often the question comes back.
 */
export class Prompter {
  private readonly last = new Map<string, string | number | boolean>();

  constructor(private readonly signal: AbortSignal) {}

  private remembered<T extends string | number | boolean>(key: string, def: T | undefined): T | undefined {
    return (this.last.get(key) as T | undefined) ?? def;
  }

  async text(
    key: string,
    message: string,
    opts: { default?: string; validate?: (v: string) => Check } = {},
  ): Promise<string> {
    const def = this.remembered(key, opts.default);
    const value = (
      await input(
        {
          message: fitQuestion(message, terminalWidth()),
          ...(def !== undefined && def !== "" && { default: def }),
          ...(opts.validate && { validate: opts.validate }),
        },
        { signal: this.signal },
      )
    ).trim();
    this.last.set(key, value);
    return value;
  }

  async yesNo(key: string, message: string, def: boolean): Promise<boolean> {
    const value = await confirm(
      { message: fitQuestion(message, terminalWidth()), default: this.remembered(key, def) ?? def },
      { signal: this.signal },
    );
    this.last.set(key, value);
    return value;
  }

  async port(key: string, message: string, def: number): Promise<number> {
    const value = await number(
      {
        message: fitQuestion(message, terminalWidth()),
        default: this.remembered(key, def),
        min: 1,
        max: 65535,
        step: 1,
        required: true,
      },
      { signal: this.signal },
    );
    this.last.set(key, value);
    return value;
  }

  choose<T>(message: string, choices: Choice<T>[], def?: T): Promise<T> {
    return select(
      { message: fitQuestion(message, terminalWidth()), choices, ...(def !== undefined && { default: def }) },
      { signal: this.signal },
    );
  }

  /** Several of a list; those `checked` are selected when the question opens (Enter accepts them). */
  pickMany<T>(message: string, choices: (Choice<T> & { checked: boolean })[]): Promise<T[]> {
    return checkbox(
      { message: fitQuestion(message, terminalWidth()), choices, pageSize: 15 },
      { signal: this.signal },
    );
  }
}
