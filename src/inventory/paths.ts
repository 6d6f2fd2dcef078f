import { isAbsolute, join, resolve } from "node:path";

/** `~` and `~/x` become the home directory; relative paths are taken from the inventory's directory. */
export function resolvePath(path: string, baseDir: string, homeDir: string): string {
  if (path === "~") return homeDir;
  if (path.startsWith("~/")) return join(homeDir, path.slice(2));
  return isAbsolute(path) ? path : resolve(baseDir, path);
}
