// The web page's reading of the trees the API returns: bracketed binary trees such as
// "( ( A dog ) ( runs . ) )" (src/data/tree-format.ts `bracketed`: tokens never contain spaces,
// every "(" opens a composition of exactly two children, one per REDUCE), and the constituents
// (spans of word positions) two trees share. Pure: runs in the browser and in Node's tests.

export interface TreeNode {
  /** The word, for a leaf; null for a composition. */
  word: string | null;
  children: TreeNode[];
  /** Positions of the first and last word under this node (inclusive). */
  start: number;
  end: number;
}

/** A malformed bracketed tree; the message says where. */
export class TreeSyntaxError extends Error {
  override name = "TreeSyntaxError";
}

/** Parses a bracketed binary tree; a single word is a tree of one leaf. */
export function parseBracketed(text: string): TreeNode {
  const tokens = text
    .trim()
    .split(/\s+/)
    .filter((t) => t !== "");
  if (tokens.length === 0) throw new TreeSyntaxError("empty tree");
  const open: TreeNode[][] = [[]];
  let words = 0;
  tokens.forEach((token, i) => {
    if (token === "(") open.push([]);
    else if (token === ")") {
      const children = open.pop();
      if (!children || open.length === 0) throw new TreeSyntaxError(`token ${i + 1}: ")" closes nothing`);
      if (children.length !== 2)
        throw new TreeSyntaxError(`token ${i + 1}: a composition of ${children.length} children, not 2`);
      open.at(-1)!.push({ word: null, children, start: children[0]!.start, end: children[1]!.end });
    } else {
      open.at(-1)!.push({ word: token, children: [], start: words, end: words });
      words++;
    }
  });
  if (open.length !== 1) throw new TreeSyntaxError(`${open.length - 1} "(" left open`);
  const roots = open[0]!;
  if (roots.length !== 1) throw new TreeSyntaxError(`${roots.length} trees side by side, not one`);
  return roots[0]!;
}

/** Every node, parents before children (left to right). */
export function nodesOf(root: TreeNode): TreeNode[] {
  const out: TreeNode[] = [];
  const pending = [root];
  while (pending.length > 0) {
    const node = pending.pop()!;
    out.push(node);
    for (let i = node.children.length - 1; i >= 0; i--) pending.push(node.children[i]!);
  }
  return out;
}

/** "start-end" of a node: the key of its span. */
export const spanKey = (node: TreeNode): string => `${node.start}-${node.end}`;

/**
 * The spans of the compositions (nodes over two or more words) both trees have. The root always
 * counts when the trees cover the same words; leaves are not constituents here.
 */
export function sharedSpans(a: TreeNode, b: TreeNode): Set<string> {
  const inA = new Set(
    nodesOf(a)
      .filter((n) => n.word === null)
      .map(spanKey),
  );
  return new Set(
    nodesOf(b)
      .filter((n) => n.word === null && inA.has(spanKey(n)))
      .map(spanKey),
  );
}

/** Depth of the tree: a single word has depth 0. */
export function treeDepth(root: TreeNode): number {
  let deepest = 0;
  const pending: [TreeNode, number][] = [[root, 0]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    deepest = Math.max(deepest, depth);
    for (const child of node.children) pending.push([child, depth + 1]);
  }
  return deepest;
}
