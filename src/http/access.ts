// Who may call each route. Every route says so in its `config.access`; a route that says nothing needs
// the API credential (deny by default), and so does a request that matches no route. The check reads
// the route the router matched, never the raw URL: the router decodes and normalises the target before
// matching (`/%61pi/…`, absolute-form `http://host/api/…`), so a test on `request.url` can be dodged.
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';

/**
 * - `public`: anyone (health, API documentation).
 * - `shopify-webhook`: anyone at the HTTP layer; the receiver verifies Shopify's HMAC signature.
 * - `shopify-install`: anyone at the HTTP layer (a merchant's browser); the install flow checks
 *   Shopify's HMAC, a single-use nonce and the shop, and installs only the configured shop.
 * - `api`: the API credential.
 */
export type RouteAccess = 'public' | 'shopify-webhook' | 'shopify-install' | 'api';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

/**
 * How the API credential is checked:
 * - `token`: `Authorization: Bearer <token>` must match.
 * - `open`: no credential (a demo or rehearsal listening on loopback only, with no real shop).
 * - `closed`: no credential is configured where one is required: every `api` route is refused.
 */
export type ApiAccess = { mode: 'token'; token: string } | { mode: 'open' } | { mode: 'closed'; reason: string };

export interface AccessRefusal {
  status: 401 | 503;
  code: string;
  message: string;
}

export function accessOf(request: FastifyRequest): RouteAccess {
  return request.routeOptions.config?.access ?? 'api';
}

/** Undefined when the request may go on; otherwise why not. */
export function checkAccess(request: FastifyRequest, api: ApiAccess): AccessRefusal | undefined {
  if (accessOf(request) !== 'api') return undefined;
  if (api.mode === 'open') return undefined;
  if (api.mode === 'closed') {
    return { status: 503, code: 'auth.not_configured', message: `The API is closed: ${api.reason}` };
  }
  const header = request.headers.authorization ?? '';
  const given = Buffer.from(/^Bearer /i.test(header) ? header.slice(7) : '');
  const expected = Buffer.from(api.token);
  if (given.length === expected.length && timingSafeEqual(given, expected)) return undefined;
  return { status: 401, code: 'auth.unauthorized', message: 'Send the API token as "Authorization: Bearer <token>".' };
}
