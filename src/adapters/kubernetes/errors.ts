/** Reading the API server's answers without leaking request bodies (which may hold keys). */
import { ApiException } from '@kubernetes/client-node';

export function statusCode(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  const code = (error as { code?: unknown; statusCode?: unknown } | undefined)?.code;
  return typeof code === 'number' ? code : undefined;
}

export function isNotFound(error: unknown): boolean {
  return statusCode(error) === 404;
}

export function isConflict(error: unknown): boolean {
  return statusCode(error) === 409;
}

export function isForbidden(error: unknown): boolean {
  return statusCode(error) === 403;
}

/**
 * A short description of an API error: the status code and the API server's message.
 * Never the request, which for Secrets carries key material.
 */
export function describeError(error: unknown): string {
  if (error instanceof ApiException) {
    const body: unknown = error.body;
    let message = '';
    if (typeof body === 'string') {
      try {
        const parsed = (JSON.parse(body) as { message?: unknown }).message;
        message = typeof parsed === 'string' ? parsed : '';
      } catch {
        message = body.slice(0, 200);
      }
    } else if (
      typeof body === 'object' &&
      body !== null &&
      'message' in body &&
      typeof body.message === 'string'
    ) {
      message = body.message;
    }
    return `HTTP ${error.code}${message ? `: ${message}` : ''}`;
  }
  return error instanceof Error ? error.message : String(error);
}
