// Shared by the server tests: a real server on a free port of 127.0.0.1, requests to it, and
// readings of its Prometheus metrics.
import { readFileSync } from "node:fs";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { pretrainedDir } from "../../src/models/pretrained.js";
import { defaultServeOptions, type ServeOptions } from "../../src/serve/options.js";
import { buildServer } from "../../src/serve/server.js";

export interface TestServer {
  app: FastifyInstance;
  url: string;
}

export async function startServer(
  models: string[],
  overrides: Partial<ServeOptions> = {},
): Promise<TestServer> {
  const app = await buildServer(defaultServeOptions(models, overrides));
  await app.listen({ port: 0, host: "127.0.0.1" });
  const address = app.server.address();
  if (address === null || typeof address !== "object") throw new Error("no address");
  return { app, url: `http://127.0.0.1:${address.port}` };
}

export interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs a body (an object as JSON, or a string sent as it is) and reads the JSON answer. */
export async function post(url: string, body: unknown, contentType = "application/json"): Promise<Answer> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": contentType },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

export async function get(url: string): Promise<Answer> {
  const res = await fetch(url);
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** The value of one sample of the metrics text, e.g. `spinn_batch_size_count{model="x"}`. */
export async function metric(url: string, sample: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${sample} `));
  return line === undefined ? 0 : Number(line.slice(sample.length + 1));
}

/** The shipped ListOps sample's expressions (bracketed, as the file has them). */
export function listOpsSample(name = "listops-pi"): string[] {
  return readFileSync(path.join(pretrainedDir(name), "sample.tsv"), "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split("\t")[1]!);
}

/** The shipped SNLI sample's pairs, raw sentences only. */
export function snliSample(): { premise: string; hypothesis: string }[] {
  return readFileSync(path.join(pretrainedDir("snli-spinn"), "sample.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { sentence1: string; sentence2: string })
    .map((r) => ({ premise: r.sentence1, hypothesis: r.sentence2 }));
}
