// Showing trees: a sentence's transitions as a bracketed string (the SNLI binary-parse notation,
// so it reads back with parseBinaryParse) and as a drawing in plain text for terminals.
import { REDUCE, SHIFT } from "./transitions.js";

type Node = { word: string } | { left: Node; right: Node };

function buildTree(tokens: readonly string[], transitions: ArrayLike<number>): Node {
  const stack: Node[] = [];
  let next = 0;
  for (let s = 0; s < transitions.length; s++) {
    const t = transitions[s];
    if (t === SHIFT) {
      if (next >= tokens.length) throw new Error(`step ${s}: SHIFT with an empty buffer`);
      stack.push({ word: tokens[next++]! });
    } else if (t === REDUCE) {
      if (stack.length < 2) throw new Error(`step ${s}: REDUCE with fewer than two items on the stack`);
      const right = stack.pop()!;
      const left = stack.pop()!;
      stack.push({ left, right });
    }
  }
  if (stack.length !== 1 || next !== tokens.length)
    throw new Error("transitions do not form one tree over all tokens");
  return stack[0]!;
}

/** "( ( The church ) ( has cracks ) )" */
export function bracketed(tokens: readonly string[], transitions: ArrayLike<number>): string {
  const show = (n: Node): string => ("word" in n ? n.word : `( ${show(n.left)} ${show(n.right)} )`);
  return show(buildTree(tokens, transitions));
}

/**
 * The tree drawn top-down in text, one line per node, children indented under their parent:
 *
 *     ┐
 *     ├─ ┐
 *     │  ├─ The
 *     │  └─ church
 *     └─ has
 */
export function drawTree(tokens: readonly string[], transitions: ArrayLike<number>): string {
  const lines: string[] = [];
  const walk = (n: Node, prefix: string, connector: string, childPrefix: string): void => {
    if ("word" in n) {
      lines.push(`${prefix}${connector}${n.word}`);
      return;
    }
    lines.push(`${prefix}${connector}┐`);
    walk(n.left, prefix + childPrefix, "├─ ", "│  ");
    walk(n.right, prefix + childPrefix, "└─ ", "   ");
  };
  walk(buildTree(tokens, transitions), "", "", "");
  return lines.join("\n");
}
