// `spinn serve`'s HTTP server (fastify): buildServer loads the models into the worker threads and
// returns the fastify instance, routes and error handling in place, ready to listen. Further
// routes (the web page, the runs view) come in as fastify plugins through `plugins`.
import { STATUS_CODES } from "node:http";
import Fastify, { type FastifyError, type FastifyInstance, type FastifyPluginAsync } from "fastify";
import { UserError } from "../cli/errors.js";
import { memory } from "../engine/index.js";
import { Batcher } from "./batcher.js";
import { type ErrorKind, HttpError } from "./http-error.js";
import { ServerMetrics } from "./metrics.js";
import { servedModels } from "./model-sources.js";
import type { ServeOptions } from "./options.js";
import type { ModelInfo } from "./protocol.js";
import { registerRoutes } from "./routes.js";
import { WorkerPool } from "./worker-pool.js";

export interface ServerPlugin {
  // biome-ignore lint/suspicious/noExplicitAny: a plugin's own options type is its business
  plugin: FastifyPluginAsync<any>;
  options?: Record<string, unknown>;
}

export interface ServerOptions extends ServeOptions {
  /** Registered after the API's routes, e.g. the web page and the runs view. */
  plugins?: ServerPlugin[];
}

const ROUTES = "GET /healthz, GET /v1/models, POST /v1/predict, POST /v1/parse, GET /metrics";

/** The status, kind and one-line message of any error a request ran into. */
function describeError(err: FastifyError, bodyLimit: number, contentType: string | undefined) {
  if (err instanceof HttpError) return { status: err.statusCode, kind: err.kind, message: err.message };
  if (err.validation) return { status: 400, kind: "invalid_request" as ErrorKind, message: err.message };
  if (err.code === "FST_ERR_CTP_BODY_TOO_LARGE") {
    const message = `request body larger than ${bodyLimit} bytes (the limit: --body-limit)`;
    return { status: 413, kind: "body_too_large" as ErrorKind, message };
  }
  if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") {
    // The request's own content type: fastify's message is only the status text.
    const message = `unsupported media type ${JSON.stringify(contentType ?? "")}: send JSON (content-type: application/json)`;
    return { status: 415, kind: "invalid_request" as ErrorKind, message };
  }
  const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500;
  return { status, kind: (status < 500 ? "invalid_request" : "internal") as ErrorKind, message: err.message };
}

/**
 * JSON bodies parsed here rather than by fastify's parser, whose error does not say what is wrong
 * (JSON.parse's message gives the position). Keys such as "__proto__" become plain own
 * properties under JSON.parse, and the handlers read only the fields their schemas name.
 */
function installJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser("application/json");
  // fastify also reads text/plain, as a string, which the schemas then reject as "body must be
  // object": a body that is not declared JSON is a 415 like any other media type.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    // fastify does not decompress: a compressed body would read as invalid JSON.
    const encoding = request.headers["content-encoding"];
    if (encoding !== undefined && encoding.trim().toLowerCase() !== "identity") {
      const message = `unsupported content-encoding ${JSON.stringify(encoding)}: send the body uncompressed`;
      done(new HttpError(415, "invalid_request", message), undefined);
      return;
    }
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      done(new HttpError(400, "invalid_json", `invalid JSON body: ${(err as Error).message}`), undefined);
    }
  });
}

/** A message as one line: control characters (a quoted body may hold them) written as escapes. */
function oneLine(message: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: they are what is replaced
  return message.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

function installErrorHandling(app: FastifyInstance, metrics: ServerMetrics, bodyLimit: number): void {
  app.setErrorHandler((err: FastifyError, request, reply) => {
    const { status, kind, message } = describeError(err, bodyLimit, request.headers["content-type"]);
    metrics.error(kind);
    if (kind === "internal") process.stderr.write(`spinn serve: ${err.stack ?? err.message}\n`);
    if (err instanceof HttpError) reply.headers(err.headers);
    reply.status(status).send({ statusCode: status, error: STATUS_CODES[status], message: oneLine(message) });
  });
  app.setNotFoundHandler((request, reply) => {
    metrics.error("not_found");
    const message = `no route ${request.method} ${request.url.split("?")[0]} (routes: ${ROUTES})`;
    reply.status(404).send({ statusCode: 404, error: STATUS_CODES[404], message: oneLine(message) });
  });
  app.addHook("onResponse", async (request, reply) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.request(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
  });
}

/** Loads the models (in worker threads) and builds the server; call `listen` on what it returns. */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const served = servedModels(options.models);
  const pool = new WorkerPool(served, options.device, options.workers, options.rolling);
  let loaded: Awaited<ReturnType<WorkerPool["start"]>>;
  try {
    loaded = await pool.start();
  } catch (err) {
    await pool.close();
    throw new UserError((err as Error).message);
  }
  const models: ModelInfo[] = loaded.map((m, i) => ({ ...m, card: served[i]!.card }));
  const metrics = new ServerMetrics({
    queueDepth: () => batcher.depth,
    runningItems: () => batcher.runningItems,
    workers: () => pool.workers,
    busyWorkers: () => pool.busy,
    busySeconds: () => pool.busySeconds,
    workerRestarts: () => pool.restarts,
    // Read here: the addon's table of live tensors is process-wide, the workers' included.
    nativeMemory: () => memory(),
  });
  const rolls = new Set(models.filter((m) => m.rolling).map((m) => m.name));
  const batcher = new Batcher(
    pool,
    options,
    (b) => metrics.batch(b.model, b.size, b.seconds),
    (model, job) => job !== "parse" && rolls.has(model),
  );
  const app = Fastify({
    bodyLimit: options.bodyLimit,
    // Types as sent: a number is not a sentence, and no field is silently dropped.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });
  installJsonParser(app);
  installErrorHandling(app, metrics, options.bodyLimit);
  registerRoutes(app, { models, batcher, metrics, limits: options.limits, maxItems: options.queue });
  for (const p of options.plugins ?? []) await app.register(p.plugin, p.options ?? {});
  // Closing: fastify stops taking connections and answers those in flight; the batches they
  // wait for still run, then the workers stop. Answers sent while closing end their connection,
  // which would otherwise stay open for fastify's keep-alive time (72 s) and hold the exit.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
  });
  app.addHook("onSend", async (_request, reply, payload) => {
    if (closing) reply.header("connection", "close");
    return payload;
  });
  app.addHook("onClose", async () => {
    await batcher.drain();
    await pool.close();
  });
  return app;
}
