// Showing trees: a sentence's transitions as a bracketed string (the SNLI binary-parse notation,
// so it reads back with parseBinaryParse) and as a drawing in plain text for terminals. Both walk
// the tree with explicit stacks, so trees of any depth (a 20,000-token ListOps expression, a
// fully left-branching sentence) work without overflowing the call stack.
import { foldTree, toBinaryParse } from "./transitions.js";

/**
 * "( ( The church ) ( has cracks ) )". Throws {@link FormatError} when the transitions are not a
 * tree over the tokens.
 */
export function bracketed(tokens: readonly string[], transitions: ArrayLike<number>): string {
  return toBinaryParse({ tokens, transitions });
}

/**
 * Levels of indentation drawn in full. Deeper lines show the number of levels left out and then
 * the deepest levels only: a drawing of a very deep tree in full would grow quadratically
 * (a 50,000-word chain would need billions of characters) and no terminal could show it.
 */
export const MAX_DRAWN_DEPTH = 48;

/**
 * The tree drawn top-down in text, one line per node, children indented under their parent:
 *
 *     ┐
 *     ├─ ┐
 *     │  ├─ The
 *     │  └─ church
 *     └─ has
 *
 * Lines deeper than {@link MAX_DRAWN_DEPTH} levels start with "«k» " where k levels of
 * indentation are left out. Throws {@link FormatError} when the transitions are not a tree over
 * the tokens.
 */
export function drawTree(tokens: readonly string[], transitions: ArrayLike<number>): string {
  const tree = nodeTable(tokens, transitions);
  const lines: string[] = [];
  // Indentation of each level on the path from the root to the current node ("│  " or "   ").
  const indents: string[] = [];
  const pending: { node: number; depth: number; connector: string; indent: string }[] = [
    { node: tree.root, depth: 0, connector: "", indent: "" },
  ];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { node, depth, connector, indent } = next;
    indents.length = depth;
    if (depth > 0) indents[depth - 1] = indent;
    const label = node < tokens.length ? tokens[node]! : "┐";
    lines.push(`${indentation(indents)}${connector}${label}`);
    if (node >= tokens.length) {
      // Right child first onto the stack, so that the left one is drawn first.
      pending.push({ node: tree.right[node]!, depth: depth + 1, connector: "└─ ", indent: "   " });
      pending.push({ node: tree.left[node]!, depth: depth + 1, connector: "├─ ", indent: "│  " });
    }
  }
  return lines.join("\n");
}

/** The indentation of a line under the given levels (all but the line's own connector). */
function indentation(indents: readonly string[]): string {
  // indents[d] belongs to the children of the node at depth d; a line at depth k uses k − 1.
  const levels = indents.length - 1;
  if (levels <= MAX_DRAWN_DEPTH) return indents.slice(0, Math.max(levels, 0)).join("");
  return `«${levels - MAX_DRAWN_DEPTH}» ${indents.slice(levels - MAX_DRAWN_DEPTH, levels).join("")}`;
}

/**
 * A tree as arrays: node ids 0…n−1 are the words, n…2n−2 the internal nodes in the order they
 * are built, with their children in `left` / `right`.
 */
function nodeTable(
  tokens: readonly string[],
  transitions: ArrayLike<number>,
): { root: number; left: Int32Array; right: Int32Array } {
  const size = 2 * tokens.length - 1;
  const left = new Int32Array(size);
  const right = new Int32Array(size);
  let built = tokens.length;
  const root = foldTree<number>(
    transitions,
    {
      leaf: (word) => word,
      node: (l, r) => {
        left[built] = l;
        right[built] = r;
        return built++;
      },
    },
    tokens.length,
  );
  return { root, left, right };
}
