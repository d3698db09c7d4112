// Errors the server answers with a status of their own: fastify's error handler turns them into
// its usual body, {"statusCode", "error", "message"}, and counts them by kind in the metrics.

/** What went wrong, as the errors counter of GET /metrics labels it. */
export type ErrorKind =
  | "invalid_json"
  | "invalid_request"
  | "invalid_input"
  | "unknown_model"
  | "cannot_parse"
  | "not_found"
  | "body_too_large"
  | "queue_full"
  | "timeout"
  | "shutting_down"
  | "model_error"
  | "internal";

export class HttpError extends Error {
  override name = "HttpError";
  constructor(
    readonly statusCode: number,
    readonly kind: ErrorKind,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}
