// JSON schemas of the request bodies, checked by fastify's validator (ajv) before a handler
// runs: a body that does not fit is a 400 naming the field, e.g.
// `body/inputs/0/premise must be string`. One item or a list is accepted wherever a list is; a
// single one is wrapped into a list before validation, so every path names its index.
import type { preValidationAsyncHookHandler } from "fastify";

const text = { type: "string" } as const;

/** POST /v1/predict: NLI pairs or ListOps expressions (which fields a model needs is checked per task). */
export function predictSchema(maxItems: number) {
  return {
    type: "object",
    required: ["inputs"],
    additionalProperties: false,
    properties: {
      model: text,
      inputs: {
        type: "array",
        minItems: 1,
        maxItems,
        items: {
          type: "object",
          additionalProperties: false,
          properties: {
            premise: text,
            hypothesis: text,
            premise_parse: text,
            hypothesis_parse: text,
            expression: text,
          },
        },
      },
    },
  } as const;
}

/** POST /v1/parse: raw sentences. */
export function parseSchema(maxItems: number) {
  return {
    type: "object",
    required: ["sentences"],
    additionalProperties: false,
    properties: {
      model: text,
      sentences: { type: "array", minItems: 1, maxItems, items: text },
    },
  } as const;
}

export interface PredictItem {
  premise?: string;
  hypothesis?: string;
  premise_parse?: string;
  hypothesis_parse?: string;
  expression?: string;
}

export interface PredictBody {
  model?: string;
  inputs: PredictItem[];
}

export interface ParseBody {
  model?: string;
  sentences: string[];
}

/** Wraps a single item (`"inputs": {...}`, `"sentences": "..."`) into a list of one. */
export function listOfOne(key: string): preValidationAsyncHookHandler {
  return async (request) => {
    const body = request.body as Record<string, unknown> | null;
    if (body === null || typeof body !== "object" || Array.isArray(body)) return;
    if (key in body && !Array.isArray(body[key])) body[key] = [body[key]];
  };
}
