import { localFileState } from "../inventory/index.js";
import { resolvePath } from "../inventory/paths.js";
import type { Reporter } from "../ui/reporter.js";
import { defaultIdentityFile, pathForInventory, sudoFor, type PathBase, type SshAnswers } from "./answers.js";
import type { Prompter } from "./prompt.js";
import { identityFileAnswer, knownHostsAnswer, userAnswer, type ProbeFault } from "./validate.js";

/** The SSH questions: the shared settings (asked with the primary) and a host's own, when they differ. */
export class SshQuestions {
  constructor(
    private readonly ask: Prompter,
    private readonly r: Reporter,
    private readonly base: PathBase,
  ) {}

  private path(typed: string): string {
    return resolvePath(typed.trim(), this.base.cwd, this.base.home);
  }

  /** The primary's SSH settings, all of them or those a failed probe called into question. */
  async shared(prev: SshAnswers | undefined, fault: ProbeFault | "all"): Promise<SshAnswers> {
    let s: SshAnswers = prev ?? {
      user: "root",
      port: 22,
      identityFile: defaultIdentityFile(this.base.home),
      sudo: false,
      knownHostsFile: "~/.ssh/known_hosts",
      acceptNewHostKeys: false,
    };
    if (fault === "all" || fault === "credentials") s = { ...s, ...(await this.login(s, "the primary")) };
    if (fault === "all") s = { ...s, port: await this.port("the primary", s.port) };
    if (fault === "all" || fault === "hostKey") s = { ...s, ...(await this.hostKeys(s, "the primary")) };
    return s;
  }

  port(where: string, def: number): Promise<number> {
    return this.ask.port(`port:${where}`, "SSH port:", def);
  }

  /** User, key and sudo. A user other than root needs passwordless sudo: kubeha needs root everywhere. */
  private async login(
    s: SshAnswers,
    where: string,
  ): Promise<Pick<SshAnswers, "user" | "identityFile" | "sudo">> {
    for (;;) {
      const user = await this.ask.text(`user:${where}`, `SSH user on ${where}:`, {
        default: s.user,
        validate: userAnswer,
      });
      const typed = await this.ask.text(`identity:${where}`, "SSH private key (identity file):", {
        default: s.identityFile,
        validate: (v) => identityFileAnswer(v, this.path(v), localFileState(this.path(v))),
      });
      const identityFile = pathForInventory(typed, this.base);
      if (user === "root") return { user, identityFile, sudo: false };
      const sudo = await this.ask.yesNo(
        `sudo:${where}:${user}`,
        `${user} is not root: use passwordless sudo (sudo -n) for privileged commands?`,
        true,
      );
      if (sudo) return { user, identityFile, sudo };
      this.r.error(`kubeha needs root on ${where}: connect as root, or as a user with passwordless sudo`);
    }
  }

  private async hostKeys(
    s: SshAnswers,
    where: string,
  ): Promise<Pick<SshAnswers, "knownHostsFile" | "acceptNewHostKeys">> {
    const typed = await this.ask.text(`knownHosts:${where}`, "known_hosts file to check host keys against:", {
      default: s.knownHostsFile,
      validate: (v) => knownHostsAnswer(v, this.path(v), localFileState(this.path(v))),
    });
    const acceptNewHostKeys = await this.ask.yesNo(
      `acceptNew:${where}`,
      "Accept host keys not yet in it (recorded there once you confirm the inventory; a changed key is always refused)?",
      s.acceptNewHostKeys,
    );
    return { knownHostsFile: pathForInventory(typed, this.base), acceptNewHostKeys };
  }

  /** Settings of a host other than the primary: asked again only for what its probe found wrong. */
  async own(
    shared: SshAnswers,
    own: SshAnswers,
    name: string,
    fault: ProbeFault | "user",
  ): Promise<SshAnswers> {
    if (fault === "user") {
      const user = await this.ask.text(`user:${name}`, `SSH user on ${name}:`, {
        default: own.user,
        validate: userAnswer,
      });
      return { ...own, user, sudo: sudoFor(user, shared) };
    }
    if (fault === "credentials") return { ...own, ...(await this.login(own, name)) };
    if (fault === "hostKey") return { ...own, ...(await this.hostKeys(own, name)) };
    return own;
  }
}
