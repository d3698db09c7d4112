// A tree drawn as SVG with d3-hierarchy's tidy layout: one dot per composition (filled) and per
// word (open, the word under it), each level of depth one row lower, so the shape reads at a
// glance. Compositions whose span is in `shared` (constituents another model's tree also has)
// and the links into them are highlighted. Each node carries its span (data-span) and its kind
// (class leaf / internal), which the tests count.
import { type HierarchyPointNode, hierarchy, tree } from "d3-hierarchy";
import { spanKey, type TreeNode } from "./trees.js";

const SVG = "http://www.w3.org/2000/svg";
const LEVEL = 40;
const UNIT = 16;
const CHAR = 7;
const MARGIN = 14;

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number>,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** Horizontal room a node needs, in UNITs: a word needs its width, a composition a dot. */
const room = (n: TreeNode) => (n.word === null ? 1.5 : Math.max(2, (n.word.length * CHAR + 10) / UNIT));

export function treeSvg(root: TreeNode, shared: ReadonlySet<string>, label: string): SVGSVGElement {
  const layout = tree<TreeNode>()
    .nodeSize([UNIT, LEVEL])
    .separation((a, b) => (room(a.data) + room(b.data)) / 2 + (a.parent === b.parent ? 0 : 0.5));
  const laid = layout(hierarchy(root, (n) => n.children));
  const nodes = laid.descendants();
  const xs = nodes.map((n) => n.x);
  const [left, right] = [Math.min(...xs), Math.max(...xs)];
  const pad = MARGIN + (root.word === null ? 3 : room(root)) * CHAR;
  const width = right - left + 2 * pad;
  const height = laid.height * LEVEL + 2 * MARGIN + 16;
  const svg = el("svg", {
    class: "tree",
    width,
    height,
    viewBox: `${left - pad} ${-MARGIN} ${width} ${height}`,
    role: "img",
  });
  svg.setAttribute("aria-label", label);
  for (const link of laid.links()) {
    const isShared = shared.has(spanKey(link.target.data));
    const d = `M${link.source.x},${link.source.y}L${link.target.x},${link.target.y}`;
    svg.append(el("path", { class: isShared ? "link shared" : "link", d }));
  }
  for (const node of nodes) svg.append(nodeGroup(node, shared));
  return svg;
}

function nodeGroup(node: HierarchyPointNode<TreeNode>, shared: ReadonlySet<string>): SVGGElement {
  const data = node.data;
  const kind = data.word === null ? "internal" : "leaf";
  const isShared = data.word === null && shared.has(spanKey(data));
  const g = el("g", {
    class: `node ${kind}${isShared ? " shared" : ""}`,
    transform: `translate(${node.x},${node.y})`,
    "data-span": spanKey(data),
  });
  g.append(el("circle", { r: data.word === null ? 4.5 : 3.5 }));
  if (data.word !== null) {
    const text = el("text", { y: 16, "text-anchor": "middle" });
    text.textContent = data.word;
    g.append(text);
  }
  return g;
}
