// The API's routes: health, the loaded models, predictions and parses. Bodies are checked by
// their schemas (schemas.ts), each item against the chosen model's task and the input limits
// here, and the sentences themselves by the library's raw-input calls in the model worker.
import type { FastifyInstance } from "fastify";
import { INPUT_LIMIT_FLAGS, type InputLimits } from "../inference/input-limits.js";
import type { PairInput } from "../inference/raw-input.js";
import type { Batcher } from "./batcher.js";
import { HttpError } from "./http-error.js";
import type { ServerMetrics } from "./metrics.js";
import type { ModelInfo } from "./protocol.js";
import {
  listOfOne,
  type ParseBody,
  type PredictBody,
  type PredictItem,
  parseSchema,
  predictSchema,
} from "./schemas.js";

export interface RouteContext {
  models: ModelInfo[];
  batcher: Batcher;
  metrics: ServerMetrics;
  limits: InputLimits;
  /** Most items in one request (the queue's size: a larger request could never be taken). */
  maxItems: number;
}

const FIELDS = { nli: ["premise", "hypothesis"], listops: ["expression"] } as const;
const OPTIONAL = { nli: ["premise_parse", "hypothesis_parse"], listops: [] } as const;

function modelNamed(models: ModelInfo[], name: string | undefined): ModelInfo {
  if (name === undefined) return models[0]!;
  const found = models.find((m) => m.name === name);
  if (found) return found;
  const loaded = models.map((m) => m.name).join(", ");
  throw new HttpError(404, "unknown_model", `no model named "${name}" (loaded: ${loaded})`);
}

/** An item's size as `spinn predict` would read it: its JSON line's bytes. */
function checkItemBytes(item: unknown, where: string, limits: InputLimits): void {
  const bytes = Buffer.byteLength(JSON.stringify(item));
  if (bytes <= limits.maxLineBytes) return;
  throw new HttpError(
    400,
    "invalid_input",
    `${where}: ${bytes} bytes, more than the limit of ${limits.maxLineBytes} for one item (raise it with ${INPUT_LIMIT_FLAGS.maxLineBytes})`,
  );
}

/** The item as the library takes it, once it has exactly the fields its model's task reads. */
function itemFor(model: ModelInfo, item: PredictItem, i: number, limits: InputLimits): PairInput | string {
  const where = `body/inputs/${i}`;
  const allowed: readonly string[] = [...FIELDS[model.task], ...OPTIONAL[model.task]];
  for (const field of FIELDS[model.task]) {
    if (!(field in item))
      throw new HttpError(400, "invalid_request", `${where} must have required property '${field}'`);
  }
  const extra = Object.keys(item).find((k) => !allowed.includes(k));
  if (extra !== undefined) {
    const fields = allowed.join(", ");
    throw new HttpError(
      400,
      "invalid_request",
      `${where}/${extra}: not a field of a ${model.task} item (model ${model.name} reads ${fields})`,
    );
  }
  checkItemBytes(item, where, limits);
  if (model.task === "listops") return item.expression!;
  return {
    premise: item.premise!,
    hypothesis: item.hypothesis!,
    ...(item.premise_parse !== undefined ? { premiseParse: item.premise_parse } : {}),
    ...(item.hypothesis_parse !== undefined ? { hypothesisParse: item.hypothesis_parse } : {}),
  };
}

function registerPredict(app: FastifyInstance, ctx: RouteContext): void {
  const schema = { body: predictSchema(ctx.maxItems) };
  app.post("/v1/predict", { schema, preValidation: listOfOne("inputs") }, async (request) => {
    const body = request.body as PredictBody;
    const model = modelNamed(ctx.models, body.model);
    const items = body.inputs.map((item, i) => itemFor(model, item, i, ctx.limits));
    // The library names a bad parse by its sentence ("premise"); the body has it as premise_parse.
    const path = (i: number, field: string | undefined) => {
      if (field === undefined) return `body/inputs/${i}`;
      const parsed = `${field}_parse` in body.inputs[i]! ? `${field}_parse` : field;
      return `body/inputs/${i}/${parsed}`;
    };
    const job = model.task === "nli" ? "classify" : "listops";
    const predictions = await ctx.batcher.submit(model.name, job, items, path);
    return { model: model.name, predictions };
  });
}

function registerParse(app: FastifyInstance, ctx: RouteContext): void {
  const schema = { body: parseSchema(ctx.maxItems) };
  app.post("/v1/parse", { schema, preValidation: listOfOne("sentences") }, async (request) => {
    const body = request.body as ParseBody;
    const model = modelNamed(ctx.models, body.model);
    if (!model.parses) {
      const parsers = ctx.models.filter((m) => m.parses).map((m) => m.name);
      const which =
        parsers.length > 0 ? `loaded models that parse: ${parsers.join(", ")}` : "no loaded model parses";
      throw new HttpError(
        400,
        "cannot_parse",
        `model ${model.name} (${model.encoder}) composes along given trees and does not parse; ${which}`,
      );
    }
    body.sentences.forEach((s, i) => checkItemBytes(s, `body/sentences/${i}`, ctx.limits));
    const parses = await ctx.batcher.submit(
      model.name,
      "parse",
      body.sentences,
      (i) => `body/sentences/${i}`,
    );
    return { model: model.name, parses };
  });
}

export function registerRoutes(app: FastifyInstance, ctx: RouteContext): void {
  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/v1/models", async () => ({ models: ctx.models }));
  app.get("/metrics", async (_request, reply) => {
    reply.header("content-type", ctx.metrics.contentType);
    return ctx.metrics.text();
  });
  registerPredict(app, ctx);
  registerParse(app, ctx);
}
