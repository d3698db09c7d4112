// The web page as a fastify plugin: the page itself (web/index.html, web/style.css), its client
// modules (src/web/*.ts, compiled into dist/src/web), the chart and tree libraries it uses, from
// this installation's node_modules (no CDN: the page works offline), and the runs endpoints of
// the runs view. Every file it serves is in a fixed table built at registration: a request names
// an entry of that table, never a path, so nothing else on disk can be reached.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply } from "fastify";
import { CheckpointError } from "../util/checked-json.js";
import { listRuns, RunLookupError, runMetrics } from "./runs.js";

export interface WebOptions {
  /** The directory of run directories the runs view shows (none: the view says how to set it). */
  runsDir?: string;
}

const here = path.dirname(fileURLToPath(import.meta.url));
/** dist/src/serve → the compiled client modules in dist/src/web, the static files in web/. */
const clientDir = path.resolve(here, "../web");
const staticDir = path.resolve(here, "../../../web");

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/** The browser builds of the libraries the page loads, by the name the page asks for. */
const VENDOR: Record<string, [pkg: string, file: string]> = {
  "vega.js": ["vega", "build/vega.min.js"],
  "vega-lite.js": ["vega-lite", "build/vega-lite.min.js"],
  "vega-embed.js": ["vega-embed", "build/vega-embed.min.js"],
  "d3-hierarchy.js": ["d3-hierarchy", "dist/d3-hierarchy.min.mjs"],
};

/** The root directory of installed package `name` (the one this module would import). */
function packageRoot(name: string): string {
  let dir = path.dirname(createRequire(import.meta.url).resolve(name));
  while (!existsSync(path.join(dir, "package.json")) || readPackageName(dir) !== name) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`${name}: package.json not found above its entry point`);
    dir = up;
  }
  return dir;
}

function readPackageName(dir: string): string | undefined {
  return (JSON.parse(readFileSync(path.join(dir, "package.json"), "utf8")) as { name?: string }).name;
}

/** URL path → file, for everything the page loads. */
function assetTable(): Map<string, string> {
  const table = new Map<string, string>([
    ["/", path.join(staticDir, "index.html")],
    ["/style.css", path.join(staticDir, "style.css")],
  ]);
  for (const name of readdirSync(clientDir))
    if (name.endsWith(".js") || name.endsWith(".js.map"))
      table.set(`/app/${name}`, path.join(clientDir, name));
  for (const [name, [pkg, file]] of Object.entries(VENDOR))
    table.set(`/vendor/${name}`, path.join(packageRoot(pkg), file));
  return table;
}

function sendError(reply: FastifyReply, statusCode: number, error: string, message: string): FastifyReply {
  return reply.code(statusCode).send({ statusCode, error, message });
}

/** Registers the page, its assets and the runs endpoints on `app`. */
export async function webPlugin(app: FastifyInstance, options: WebOptions): Promise<void> {
  for (const [url, file] of assetTable()) {
    const type = CONTENT_TYPES[path.extname(file)] ?? "application/octet-stream";
    app.get(url, (_request, reply) =>
      reply.type(type).header("cache-control", "no-cache").send(readFileSync(file)),
    );
  }
  const runsDir = options.runsDir;
  const noRuns =
    "no runs directory: start the server with --runs DIR (a directory of spinn train --out runs)";
  app.get("/v1/runs", (_request, reply) => {
    if (runsDir === undefined) return sendError(reply, 404, "Not Found", noRuns);
    return reply.send({ runs: listRuns(runsDir) });
  });
  app.get<{ Params: { name: string } }>("/v1/runs/:name/metrics", (request, reply) => {
    if (runsDir === undefined) return sendError(reply, 404, "Not Found", noRuns);
    try {
      const { entries, tornLastLine } = runMetrics(runsDir, request.params.name);
      return reply.send({ name: request.params.name, metrics: entries, torn_last_line: tornLastLine });
    } catch (err) {
      if (err instanceof RunLookupError)
        return sendError(
          reply,
          err.statusCode,
          err.statusCode === 400 ? "Bad Request" : "Not Found",
          err.message,
        );
      if (err instanceof CheckpointError) return sendError(reply, 422, "Unprocessable Entity", err.message);
      throw err;
    }
  });
}
