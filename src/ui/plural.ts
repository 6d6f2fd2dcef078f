/** A count with its noun in the right number: plural(1, "step") is "1 step", plural(2, "step") "2 steps". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}
