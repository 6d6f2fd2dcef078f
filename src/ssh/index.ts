export { SshHost } from "./host.js";
export { connectAll, connectFailure, closeAll } from "./pool.js";
export { UnreachableError } from "./connect.js";
export { shellQuote } from "./shell-quote.js";
export {
  checkHostKey,
  fingerprint,
  hashHostName,
  knownHostsName,
  parseKnownHosts,
  type HostKeyStatus,
  type KnownHostEntry,
} from "./known-hosts.js";
export type * from "./types.js";
