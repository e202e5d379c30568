import { createHmac } from 'node:crypto';
import type middy from '@middy/core';
import { secretsEqual } from '../core/approval-links.ts';
import { type HttpEvent, type HttpResult, header, UnauthorizedError } from './http.ts';

export interface IngestAuth {
  /** Bearer token (Alertmanager `http_config.authorization.credentials`). */
  token?: string | undefined;
  /** HMAC-SHA256 key: `X-Signature: sha256=<hex>` over the raw body, for senders that sign. */
  hmacKey?: string | undefined;
}

/** Checks a request against a bearer token or an HMAC signature, in constant time. No config: open (local default). */
export function checkAuth(event: HttpEvent, auth: IngestAuth, rawBody: string): void {
  if (!auth.token && !auth.hmacKey) return;
  const authorization = header(event, 'authorization');
  if (
    auth.token &&
    authorization?.startsWith('Bearer ') &&
    secretsEqual(authorization.slice(7).trim(), auth.token)
  )
    return;
  const signature = header(event, 'x-signature');
  if (auth.hmacKey && signature?.startsWith('sha256=')) {
    const expected = `sha256=${createHmac('sha256', auth.hmacKey).update(rawBody).digest('hex')}`;
    if (secretsEqual(signature, expected)) return;
  }
  throw new UnauthorizedError(
    authorization || signature
      ? 'the credentials are not valid'
      : 'this endpoint needs Authorization: Bearer <token> or an X-Signature',
  );
}

/** Bearer-token guard for the API (the local server's --token); absent token: open. */
export function bearerAuth(token: string | undefined): middy.MiddlewareObj<HttpEvent, HttpResult> {
  return {
    before: async function bearerAuthBefore(request) {
      if (!token) return;
      const authorization = header(request.event, 'authorization');
      if (!authorization?.startsWith('Bearer ') || !secretsEqual(authorization.slice(7).trim(), token)) {
        throw new UnauthorizedError('this API needs Authorization: Bearer <token>');
      }
    },
  };
}
