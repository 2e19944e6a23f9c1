// Installing the app through Shopify's authorization code grant, for a store Switchyard reaches as an
// outside app (an integrator's app, or a public one): the install link sends the merchant to Shopify
// to approve the access scopes; Shopify sends the browser back to the callback, which checks that the
// answer is Shopify's (HMAC), answers this very install (the single-use `state` nonce, also held in
// the browser's cookie) and names the configured shop, then trades the code for an expiring offline
// token and its refresh token, stored sealed. See docs/decisions/0015-connecting-to-shopify.md.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { and, eq, gt, isNull, lt } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import { AppError } from '../platform/errors.js';
import { storeInstalledTokens } from './access-tokens.js';
import { shopifyOauthStates } from './credentials.schema.js';
import type { SecretBox } from './secret-box.js';
import { TokenEndpointError, type TokenEndpoint } from './token-endpoint.js';

export const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]*\.myshopify\.com$/;
/** How long an install link's nonce stays good: enough to log in and approve. */
const STATE_TTL_MS = 10 * 60_000;

export interface InstallFlowOptions {
  db: Db;
  /** The one shop this installation serves (decision 0002): no other shop can be installed. */
  shop: string;
  clientId: string;
  clientSecret: string;
  /** Where the shop's admin is, when not https://{shop} (the simulator). */
  apiUrl: string | undefined;
  /** The callback's public URL, as declared in the app's redirect URLs. */
  redirectUrl: string;
  scopes: readonly string[];
  endpoint: TokenEndpoint;
  box: SecretBox;
  now?: () => number;
}

export interface InstallFlow {
  /** The URL of Shopify's approval page, and the nonce the browser must bring back. */
  begin(shop: string | undefined): Promise<{ location: string; state: string }>;
  /** Checks Shopify's answer and stores the tokens; the scopes Shopify granted. */
  complete(
    query: Record<string, string | undefined>,
    browserState: string | undefined,
  ): Promise<{ shop: string; scope: string }>;
}

const refuse = (code: string, message: string) => new AppError(code, 'invalid', message);

/** Shopify's signature of a redirect: HMAC-SHA256 (hex) of the other parameters, sorted, as `k=v` joined by `&`. */
export function redirectHmac(query: Record<string, string | undefined>, secret: string): string {
  const message = Object.keys(query)
    .filter((k) => k !== 'hmac' && k !== 'signature' && query[k] !== undefined)
    .sort()
    .map((k) => `${k}=${query[k]}`)
    .join('&');
  return createHmac('sha256', secret).update(message).digest('hex');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function makeInstallFlow(options: InstallFlowOptions): InstallFlow {
  const { db, box, endpoint } = options;
  const now = options.now ?? Date.now;
  const adminBase = (options.apiUrl ?? `https://${options.shop}`).replace(/\/+$/, '');

  function checkShop(shop: string | undefined): string {
    if (shop === undefined || shop === '')
      throw refuse('install.shop_missing', 'Name the shop: ?shop=your-store.myshopify.com');
    if (shop.length > 255 || !SHOP_DOMAIN.test(shop))
      throw refuse('install.shop_invalid', 'The shop must be a myshopify.com domain such as your-store.myshopify.com.');
    if (shop !== options.shop)
      throw new AppError(
        'install.other_shop',
        'forbidden',
        `This Switchyard serves ${options.shop} only (SHOPIFY_SHOP); it cannot be installed on another shop.`,
      );
    return shop;
  }

  return {
    async begin(shopParam) {
      const shop = checkShop(shopParam);
      const state = randomBytes(24).toString('hex');
      const at = now();
      // Old nonces go as new ones come: the table stays a handful of rows.
      await db.delete(shopifyOauthStates).where(lt(shopifyOauthStates.expiresAt, new Date(at - STATE_TTL_MS)));
      await db
        .insert(shopifyOauthStates)
        .values({ state, shop, createdAt: new Date(at), expiresAt: new Date(at + STATE_TTL_MS) });
      const query = new URLSearchParams({
        client_id: options.clientId,
        scope: options.scopes.join(','),
        redirect_uri: options.redirectUrl,
        state,
      });
      // Empty grant options: an offline token (the app works with nobody logged in).
      query.append('grant_options[]', '');
      return { location: `${adminBase}/admin/oauth/authorize?${query.toString()}`, state };
    },

    async complete(query, browserState) {
      const { hmac, state, code } = query;
      if (
        !hmac ||
        !/^[0-9a-f]{64}$/i.test(hmac) ||
        !sameText(redirectHmac(query, options.clientSecret), hmac.toLowerCase())
      ) {
        throw refuse(
          'install.bad_hmac',
          "The callback is not signed by Shopify with this app's secret (hmac missing or wrong).",
        );
      }
      const shop = checkShop(query['shop']);
      if (!state)
        throw refuse('install.state_missing', 'The callback carries no state: start again from the install link.');
      if (!browserState || !sameText(browserState, state)) {
        throw refuse(
          'install.state_mismatch',
          'This browser did not start this install (its state cookie is missing or differs): start again from the install link.',
        );
      }
      if (!code || code.length > 512)
        throw refuse('install.code_missing', 'The callback carries no authorization code.');
      // Single use: taken in one statement, so two deliveries of one callback cannot both pass.
      const taken = await db
        .update(shopifyOauthStates)
        .set({ usedAt: new Date(now()) })
        .where(
          and(
            eq(shopifyOauthStates.state, state),
            eq(shopifyOauthStates.shop, shop),
            isNull(shopifyOauthStates.usedAt),
            gt(shopifyOauthStates.expiresAt, new Date(now())),
          ),
        )
        .returning({ state: shopifyOauthStates.state });
      if (taken.length === 0)
        throw refuse(
          'install.state_invalid',
          'This install link was already used or has expired (10 minutes): start again from the install link.',
        );
      let issued;
      try {
        issued = await endpoint.request({ grant: 'authorization_code', code });
      } catch (error) {
        if (error instanceof TokenEndpointError) {
          throw new AppError(
            `install.${error.code}`,
            error.code === 'unavailable' ? 'unavailable' : 'invalid',
            `Shopify did not give an access token for the install: ${error.message}`,
          );
        }
        throw error;
      }
      if (!issued.refreshToken || issued.expiresInSeconds === undefined) {
        throw new AppError(
          'install.not_expiring',
          'invalid',
          'Shopify gave a non-expiring token; Switchyard asks for expiring offline tokens with a refresh token. Install again.',
        );
      }
      await storeInstalledTokens(db, box, shop, issued, now());
      return { shop, scope: issued.scope };
    },
  };
}
