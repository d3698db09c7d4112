// The page's entry: two views, Predict and Training runs, picked by the address's #fragment
// (so a view can be linked and the browser's back button works), each started once.
import { startPredictView } from "./predict-view.js";
import { startRunsView } from "./runs-view.js";

const VIEWS = ["predict", "runs"] as const;
type View = (typeof VIEWS)[number];
const started = new Set<View>();

function show(): void {
  const wanted = location.hash.slice(1);
  const view: View = (VIEWS as readonly string[]).includes(wanted) ? (wanted as View) : "predict";
  for (const name of VIEWS) {
    (document.getElementById(name) as HTMLElement).hidden = name !== view;
    const link = document.getElementById(`nav-${name}`)!;
    if (name === view) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (started.has(view)) return;
  started.add(view);
  if (view === "predict") void startPredictView();
  else startRunsView();
}

window.addEventListener("hashchange", show);
show();
