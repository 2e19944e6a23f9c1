import { Type } from 'typebox';
import type { App } from './app.js';
import { isAppError } from '../platform/errors.js';

/** Implemented by shopify/install.ts, wired by main/ (the authorization code grant). */
export interface ShopifyInstall {
  begin(shop: string | undefined): Promise<{ location: string; state: string }>;
  complete(
    query: Record<string, string | undefined>,
    browserState: string | undefined,
  ): Promise<{ shop: string; scope: string }>;
}

const STATE_COOKIE = 'switchyard_install_state';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A page a person reads in the browser after Shopify sent them back. */
function page(title: string, lines: string[]): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)} · Switchyard</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1a1a1a}h1{font-size:1.4rem}code{background:#f3f3f3;padding:0 .25rem}</style></head>
<body><h1>${escapeHtml(title)}</h1>${lines.map((l) => `<p>${escapeHtml(l)}</p>`).join('')}</body></html>`;
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return rest.join('=');
  }
  return undefined;
}

const Query = Type.Record(Type.String(), Type.String({ maxLength: 2048 }));

export function registerShopifyInstallRoutes(
  app: App,
  deps: { install: ShopifyInstall; publicUrl: string; onInstalled?: () => void },
): void {
  const secure = deps.publicUrl.startsWith('https:') ? '; Secure' : '';
  // The path the browser sees (a proxy may serve Switchyard under a prefix).
  const cookiePath = `${new URL(deps.publicUrl).pathname.replace(/\/+$/, '')}/shopify`;

  app.get(
    '/shopify/install',
    {
      schema: {
        summary: 'Install link: sends the merchant to Shopify to approve the app (authorization code grant)',
        tags: ['shopify'],
        querystring: Query,
      },
      // Anyone may start an install: Shopify asks the merchant to log in and approve it, and only the
      // configured shop can be installed.
      config: { access: 'shopify-install' },
    },
    async (request, reply) => {
      const query = request.query as Record<string, string | undefined>;
      try {
        const { location, state } = await deps.install.begin(query['shop']);
        return reply
          .header(
            'set-cookie',
            `${STATE_COOKIE}=${state}; HttpOnly; SameSite=Lax; Path=${cookiePath}; Max-Age=600${secure}`,
          )
          .redirect(location, 302);
      } catch (error) {
        if (!isAppError(error)) throw error;
        return reply
          .status(error.kind === 'forbidden' ? 403 : 400)
          .type('text/html; charset=utf-8')
          .send(page('Cannot install Switchyard', [error.message]));
      }
    },
  );

  app.get(
    '/shopify/callback',
    {
      schema: {
        summary: "Shopify's answer to an install: verified (HMAC, state, shop), then the code is traded for tokens",
        tags: ['shopify'],
        querystring: Query,
      },
      config: { access: 'shopify-install' },
    },
    async (request, reply) => {
      const query = request.query as Record<string, string | undefined>;
      // The nonce is spent either way: clear it from the browser.
      reply.header('set-cookie', `${STATE_COOKIE}=; HttpOnly; SameSite=Lax; Path=${cookiePath}; Max-Age=0${secure}`);
      try {
        const { shop, scope } = await deps.install.complete(query, cookieOf(request.headers.cookie, STATE_COOKIE));
        deps.onInstalled?.();
        request.log.info({ shop }, 'Switchyard installed on the shop; tokens stored');
        return reply
          .type('text/html; charset=utf-8')
          .send(
            page('Switchyard is connected', [
              `Installed on ${shop}. Shopify granted: ${scope || '(no scopes)'}.`,
              'Switchyard now loads the shop (locations, products, open orders) and keeps it in step; see /api/v1/sync/health.',
            ]),
          );
      } catch (error) {
        if (!isAppError(error)) throw error;
        const status = error.kind === 'forbidden' ? 403 : error.kind === 'unavailable' ? 503 : 400;
        request.log.warn({ code: error.code }, 'install callback refused');
        return reply
          .status(status)
          .type('text/html; charset=utf-8')
          .send(page('Switchyard was not installed', [error.message]));
      }
    },
  );
}
