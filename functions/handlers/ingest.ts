import middy from '@middy/core';
import httpRouterHandler from '@middy/http-router';
import { type NormalizeOptions, normalizeAlertmanager } from '../core/classifier/normalize.ts';
import { parseJsonText } from '../core/json-limits.ts';
import { ALERT_DETAIL_TYPE, INGEST_SOURCE } from '../core/routing.ts';
import type { Clock } from '../ports/clock.ts';
import type { EventBus } from '../ports/event-bus.ts';
import type { Logger } from '../ports/logger.ts';
import { checkAuth, type IngestAuth } from './auth.ts';
import { type HttpEvent, type HttpResult, httpErrors, json, readBody } from './http.ts';

/** Alertmanager groups can be large (truncatedAlerts says when it cut them); 1 MB is plenty. */
export const WEBHOOK_BODY_LIMIT = 1024 * 1024;

export interface IngestHandlerOptions {
  bus: EventBus;
  normalize: NormalizeOptions;
  /** Resolved per request so a rotated secret takes effect without a deploy. */
  auth: () => Promise<IngestAuth> | IngestAuth;
  clock: Clock;
  logger: Logger;
}

/**
 * The ingest endpoint: an Alertmanager webhook (v4) in, one normalized alert event per alert out on
 * the runbooks bus. Auth by bearer token or HMAC (constant-time). 400 names the bad field, 413 when too
 * large, 401 without valid credentials. Nothing is published unless every alert in the body is valid.
 */
export function createIngestHandler(options: IngestHandlerOptions) {
  const routes = [
    {
      method: 'POST' as const,
      path: '/webhooks/alertmanager',
      handler: async (event: HttpEvent): Promise<HttpResult> => {
        const raw = readBody(event, WEBHOOK_BODY_LIMIT);
        checkAuth(event, await options.auth(), raw);
        const body = parseJsonText(raw);
        const alerts = normalizeAlertmanager(body, options.normalize);
        const receivedAt = options.clock.now().toISOString();
        const result = await options.bus.publish(
          alerts.map((alert) => ({
            source: INGEST_SOURCE,
            detailType: ALERT_DETAIL_TYPE,
            detail: { alert, receivedAt },
            time: receivedAt,
          })),
        );
        options.logger.info('alerts ingested', { alerts: alerts.length });
        return json(202, {
          accepted: alerts.length,
          alerts: alerts.map((alert) => ({
            name: alert.name,
            fingerprint: alert.fingerprint,
            status: alert.status,
            environment: alert.environment,
          })),
          ...(result.deliveries ? { results: result.deliveries } : {}),
        });
      },
    },
  ];
  return middy<HttpEvent, HttpResult>(httpRouterHandler<HttpEvent, HttpResult>(routes)).use(
    httpErrors(options.logger),
  );
}
