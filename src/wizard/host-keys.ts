import { appendFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

async function readOr(file: string, fallback: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return fallback;
    throw err;
  }
}

function withNewline(text: string): string {
  return text === "" || text.endsWith("\n") ? text : `${text}\n`;
}

/** A host key the operator accepted while answering, not yet in their known_hosts. */
export interface PendingKey {
  /** The known_hosts file it goes to. */
  file: string;
  /** "master-2 (10.0.0.12)" */
  host: string;
  /** The known_hosts line, as the SSH transport wrote it (hashed when the file hashes). */
  line: string;
}

/**
 * Host keys accepted during the questions are kept here and written to known_hosts only when the
 * operator confirms the inventory: nothing changes on this machine while answering. A probe checks
 * keys against a private copy (the real file plus the keys accepted so far), in which the SSH transport
 * records a new key as it would in the real file; the new lines are taken back from the copy after.
 */
export class PendingHostKeys {
  private dir: string | undefined;
  private readonly keys: PendingKey[] = [];
  private copies = 0;

  get pending(): readonly PendingKey[] {
    return this.keys;
  }

  /** Runs `probe` against a copy of `file` (the path it gets); keys it accepted are kept for `commit`. */
  async around<T>(file: string, host: string, probe: (copy: string) => Promise<T>): Promise<T> {
    this.dir ??= await mkdtemp(join(tmpdir(), "kubeha-wizard-"));
    const copy = join(this.dir, `known_hosts.${++this.copies}`);
    const mine = this.keys.filter((k) => k.file === file).map((k) => `${k.line}\n`);
    const start = withNewline(await readOr(file, "")) + mine.join("");
    await writeFile(copy, start, { mode: 0o600 });
    try {
      return await probe(copy);
    } catch (err) {
      // The operator knows their own file, not the copy: errors name the real one.
      if (err instanceof Error) err.message = err.message.split(copy).join(file);
      throw err;
    } finally {
      const now = await readOr(copy, start);
      for (const line of now.slice(start.length).split("\n").filter(Boolean)) {
        this.keys.push({ file, host, line });
      }
      await rm(copy, { force: true });
    }
  }

  /** Appends the accepted keys to their known_hosts files (the operator confirmed); returns what was written. */
  async commit(): Promise<PendingKey[]> {
    const written = this.keys.splice(0);
    for (const file of new Set(written.map((k) => k.file))) {
      const text = await readOr(file, "");
      if (text === "") await mkdir(dirname(file), { recursive: true, mode: 0o700 });
      const lines = written
        .filter((k) => k.file === file && !text.includes(k.line))
        .map((k) => `${k.line}\n`);
      await appendFile(file, (withNewline(text) === text ? "" : "\n") + lines.join(""), { mode: 0o600 });
    }
    return written;
  }

  async dispose(): Promise<void> {
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
