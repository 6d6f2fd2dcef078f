import { appendFileSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { plural } from "./plural.js";
import { redact } from "./redact.js";
import { terminalWidth, wrapText } from "./wrap.js";

export interface ReporterOptions {
  /** Human output goes to stderr when stdout carries a JSON document. */
  json: boolean;
  color: boolean;
  /** Full log, no secrets; named at the start and at the end of a run. */
  logFile?: string;
}

const SPINNER = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
/** Without a terminal, a progress message is repeated at most this often. */
const PLAIN_PROGRESS_INTERVAL_MS = 2000;

/**
 * The one place kubeha talks to the operator: progress, findings, results.
 * On a TTY the step in progress is a live line (host, step, elapsed time, latest progress) above
 * which finished lines scroll; otherwise lines are plain and timestamped, so logs read well.
 */
export class Reporter {
  private readonly started = Date.now();
  private readonly out: NodeJS.WriteStream;
  private readonly tty: boolean;
  /** The steps in progress (several run at once): the newest is drawn, the others counted. */
  private running: { host: string; title: string; detail: string; since: number }[] = [];
  private spinner?: { frame: number; timer: NodeJS.Timeout };
  private lastPlain = new Map<string, number>();
  /** SSH operations taking long, by host and operation: the text each last put on the live line. */
  private waits = new Map<string, string>();

  private log: string | undefined;

  constructor(private readonly options: ReporterOptions) {
    this.out = options.json ? process.stderr : process.stdout;
    this.tty = Boolean(this.out.isTTY) && options.color;
    if (options.logFile) this.attachLog(options.logFile);
  }

  get logFile(): string | undefined {
    return this.log;
  }

  /**
   * Start the full log (unless one was given with --log-file) and say where it is. A command run by
   * another (the wizard's plan, then apply) gets a log of its own, named after it.
   */
  attachLog(path: string): void {
    if ((this.log && this.options.logFile) || this.log === path) return;
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    if (this.log) this.toLog("info", `continued in ${path}`);
    this.log = path;
    this.info(`full log: ${path}`);
  }

  info(message: string): void {
    this.line("info", message);
  }

  /** A step of work on a host: "[master-2] etcd: learner added". */
  step(host: string, message: string): void {
    this.line("step", `[${host}] ${message}`);
  }

  warn(message: string): void {
    this.line("warn", message);
  }

  error(message: string): void {
    this.line("error", message);
  }

  /** A long step begins: on a TTY a live line with its elapsed time until `end()`. */
  begin(host: string, title: string): void {
    this.toLog("step", `[${host}] ${title} ...`);
    if (!this.tty) {
      this.line("step", `[${host}] ${title} ...`);
      return;
    }
    if (!this.spinner) {
      const timer = setInterval(() => this.drawLive(), 120);
      timer.unref();
      this.spinner = { frame: 0, timer };
    }
    this.running.push({ host, title, detail: "", since: Date.now() });
    this.drawLive();
  }

  /** The newest step in progress on `host`, else the newest of all. */
  private get live() {
    return this.running.at(-1);
  }

  private liveOn(host: string) {
    return this.running.findLast((l) => l.host === host) ?? this.live;
  }

  /** How the current step is getting on ("learner applied 812/3000"); plain output is throttled. */
  progress(host: string, detail: string): void {
    this.toLog("progress", `[${host}] ${detail}`);
    const live = this.liveOn(host);
    if (live && this.tty) {
      live.detail = detail;
      this.drawLive();
      return;
    }
    const key = `${host}:${detail.replace(/\d+/g, "#")}`;
    const last = this.lastPlain.get(key) ?? 0;
    if (Date.now() - last >= PLAIN_PROGRESS_INTERVAL_MS) {
      this.lastPlain.set(key, Date.now());
      this.line("step", `[${host}] ${detail}`);
    }
  }

  /**
   * An SSH operation on `host` has taken `seconds` so far: the progress line says which host kubeha is
   * waiting for and on what, so a stalled link shows at once rather than after the stall bound.
   */
  waiting(host: string, what: string, seconds: number): void {
    const detail = `waiting for ${what} (${seconds}s)`;
    const text = `[${host}] ${detail}`;
    this.waits.set(`${host}\0${what}`, text);
    const live = this.liveOn(host);
    if (live && this.tty) {
      this.toLog("progress", text);
      live.detail = text;
      this.drawLive();
      return;
    }
    // Plain output: one line per host at most every interval, however many of its operations wait
    // (a step writes a dozen files at once; a stalled link holds them all).
    const others = [...this.waits.keys()].filter((k) => k.startsWith(`${host}\0`)).length - 1;
    const line = others > 0 ? `${text}, and ${plural(others, "other operation")}` : text;
    this.toLog("progress", line);
    const last = this.lastPlain.get(`${host}\0waiting`) ?? 0;
    if (Date.now() - last >= PLAIN_PROGRESS_INTERVAL_MS) {
      this.lastPlain.set(`${host}\0waiting`, Date.now());
      this.line("step", line);
    }
  }

  /** That operation is over: the live line no longer shows it. */
  waited(host: string, what: string): void {
    const key = `${host}\0${what}`;
    const text = this.waits.get(key);
    this.waits.delete(key);
    for (const l of this.running) {
      if (text !== undefined && l.detail === text) l.detail = [...this.waits.values()].at(-1) ?? "";
    }
  }

  /** A step is over (without arguments: every step): its live line goes away. */
  end(host?: string, title?: string): void {
    const i = host === undefined ? 0 : this.running.findIndex((l) => l.host === host && l.title === title);
    if (i < 0) return;
    this.running.splice(i, host === undefined ? this.running.length : 1);
    if (this.running.length) return this.drawLive();
    if (!this.spinner) return;
    clearInterval(this.spinner.timer);
    this.spinner = undefined;
    if (this.tty) this.out.write("\r\x1b[K");
  }

  private drawLive(): void {
    const l = this.live;
    if (!l || !this.spinner) return;
    this.spinner.frame = (this.spinner.frame + 1) % SPINNER.length;
    const secs = ((Date.now() - l.since) / 1000).toFixed(1);
    const width = Math.max(40, (this.out.columns ?? 100) - 1);
    const more = this.running.length > 1 ? ` (+${this.running.length - 1} running)` : "";
    const text = `${SPINNER[this.spinner.frame]} [${l.host}] ${l.title} (${secs}s)${more}${l.detail ? ` ${l.detail}` : ""}`;
    this.out.write(`\r\x1b[K\x1b[36m${redact(text).slice(0, width)}\x1b[0m`);
  }

  /** Written to the log file only. */
  debug(message: string): void {
    this.toLog("debug", message);
  }

  /** The machine-readable result: the only thing on stdout in JSON mode. */
  result(value: unknown): void {
    const text = redact(JSON.stringify(value, null, 2));
    process.stdout.write(text + "\n");
    this.toLog("result", text);
  }

  /**
   * Plain text meant for stdout (a plan, a report) in human mode, laid out by the caller. `full`, when
   * given, is what the log gets instead (the plan uncut, where the screen shows it fitted to the width).
   */
  print(text: string, full?: string): void {
    if (this.live && this.tty) this.out.write("\r\x1b[K");
    const clean = redact(text);
    this.out.write(clean.endsWith("\n") ? clean : clean + "\n");
    this.toLog("print", full === undefined ? clean : redact(full));
  }

  /** Seconds since the command started, or since `since` (a Date.now() value). */
  elapsed(since = this.started): string {
    return `${((Date.now() - since) / 1000).toFixed(1)}s`;
  }

  private line(level: "info" | "step" | "warn" | "error", message: string): void {
    const clean = redact(message);
    this.toLog(level, clean);
    if (this.tty) {
      if (this.live) this.out.write("\r\x1b[K");
      const colour = { info: "", step: "\x1b[36m", warn: "\x1b[33m", error: "\x1b[31m" }[level];
      const reset = colour ? "\x1b[0m" : "";
      const tag = level === "warn" ? "warning: " : level === "error" ? "error: " : "";
      // Wrapped at spaces: the terminal itself would cut words at its edge.
      const text = wrapText(`${tag}${clean}`, terminalWidth(this.out));
      this.out.write(`${colour}${text}${reset}\n`);
      if (this.live) this.drawLive();
    } else {
      const tag = level === "warn" ? "WARN " : level === "error" ? "ERROR " : "";
      this.out.write(`${new Date().toISOString()} ${tag}${clean}\n`);
    }
  }

  private toLog(level: string, message: string): void {
    if (!this.log) return;
    appendFileSync(this.log, `${new Date().toISOString()} ${level} ${redact(message)}\n`, {
      mode: 0o600,
    });
  }
}
