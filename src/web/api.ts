// The page's calls to the server: JSON in and out, and an error answer ({statusCode, error,
// message}) turned into an Error carrying the server's message, so the page can show it.

/** A request the server refused, or one that never reached it. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function getJson<T>(url: string): Promise<T> {
  return answer<T>(url, await reach(url, { headers: { accept: "application/json" } }));
}

export async function postJson<T>(url: string, body: unknown): Promise<T> {
  const init = {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  };
  return answer<T>(url, await reach(url, init));
}

async function reach(url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    throw new ApiError(0, `${url}: the server did not answer (${(err as Error).message})`);
  }
}

async function answer<T>(url: string, response: Response): Promise<T> {
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!response.ok) {
    const message = (json as { message?: unknown } | null)?.message;
    throw new ApiError(
      response.status,
      `${url}: ${typeof message === "string" ? message : `HTTP ${response.status}`}`,
    );
  }
  if (json === null) throw new ApiError(response.status, `${url}: the answer is not JSON`);
  return json as T;
}
