export { loadInventory } from "./load.js";
export { localFileState, parseInventory, type ParseOptions, type ParseResult } from "./parse.js";
export { formatProblem, type Problem } from "./problems.js";
export type { FileCheck, FileState, KeyCheck, KeyState } from "./rules.js";
export * from "./types.js";
