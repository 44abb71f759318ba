/**
 * Calls the gateway's admin API. The browser sends the HttpOnly session cookie by itself; every
 * call also carries X-Ficus-Dashboard: 1, which the gateway requires of cookie-authenticated
 * writes (a header no cross-site form can add).
 */

const BASE = '/_ficus/api';

/** The API answered with an error: `code` and `message` are the gateway's. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};

/** Called when a call answers 401 (the session expired or the token was rotated). */
export function whenUnauthorized(listener) {
  onUnauthorized = listener;
}

/** One call; resolves to the parsed JSON (or null for 204). */
export async function api(method, path, body, extraHeaders = {}) {
  const headers = { accept: 'application/json', 'x-ficus-dashboard': '1', ...extraHeaders };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let response;
  try {
    response = await fetch(`${BASE}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    throw new ApiError(
      0,
      'FICUS_GATEWAY_UNREACHABLE',
      `cannot reach the gateway: ${error.message}`,
    );
  }
  if (response.status === 204) return null;
  const text = await response.text();
  let payload;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    payload = null;
  }
  if (!response.ok) {
    const error = payload?.error;
    if (response.status === 401 && !extraHeaders.authorization) onUnauthorized();
    throw new ApiError(
      response.status,
      error?.code ?? 'FICUS_HTTP_ERROR',
      error?.message ?? `${method} ${path} answered ${response.status}`,
    );
  }
  return payload;
}

/** Signs in with the admin token; the gateway answers with a session cookie. */
export function signIn(token, actor) {
  return api('POST', '/session', actor ? { actor } : {}, { authorization: `Bearer ${token}` });
}
