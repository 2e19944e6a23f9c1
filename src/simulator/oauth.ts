// How Shopify issues access tokens since 2026, at `POST /admin/oauth/access_token` and
// `GET /admin/oauth/authorize` (the shop is found by the app's client ID; at Shopify it is the host):
// - client credentials (an app of the merchant's own organization): a token of about a day;
// - an install's authorization code, traded once (within 10 minutes) for an offline token, which with
//   `expiring=1` lasts an hour and comes with a refresh token (90 days);
// - the refresh of such a token: a new pair each time. The refresh token used can be sent again until
//   the app uses its replacement (Shopify keeps it for a lost answer); from then on it is refused.
// Every token carries the scopes granted when it was issued; an expired token is answered 401 like an
// unknown one; rotating the client secret or uninstalling the app ends every token issued so far.
import { createHmac, randomBytes } from 'node:crypto';
import type { Random } from './seed.js';
import { isScopeHandle } from './scopes.js';
import type { SimApp } from './views.js';

export interface TokenLifetimes {
  clientCredentialsSeconds: number;
  expiringOfflineSeconds: number;
  refreshTokenSeconds: number;
}

/** Shopify's documented lifetimes. */
export const SHOPIFY_TOKEN_LIFETIMES: TokenLifetimes = { clientCredentialsSeconds: 86_399, expiringOfflineSeconds: 3_600, refreshTokenSeconds: 7_776_000 };

export type TokenGrantName = 'client_credentials' | 'authorization_code' | 'refresh_token';

export interface TokenStats {
  issued: number;
  refused: number;
}

/** What the token endpoint needs of the app's shop. */
export interface OAuthShop {
  domain: string;
  lifetimes: TokenLifetimes;
  faults: { tokenEndpointErrorRate: number; tokenEndpointFailNext: number };
  random: Random;
  stats: { tokenRequests: Record<TokenGrantName, TokenStats>; expiredTokenCalls: number };
}

export interface OAuthApp {
  app: SimApp;
  shop: OAuthShop;
}

interface IssuedAccess {
  clientId: string;
  scopes: Set<string>;
  /** Real time (ms); undefined: never expires. */
  expiresAt: number | undefined;
  epoch: number;
}

interface IssuedRefresh {
  clientId: string;
  scopes: Set<string>;
  expiresAt: number;
  epoch: number;
  /** The refresh token this one replaced: retired once this one is used. */
  replaced: string | undefined;
  retired: boolean;
}

interface IssuedCode {
  clientId: string;
  scopes: Set<string>;
  expiresAt: number;
  used: boolean;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

const token = (prefix: string) => `${prefix}_${randomBytes(16).toString('hex')}`;
const oauthError = (status: number, error: string, description: string): TokenAnswer => ({ status, body: { error, error_description: description } });

/** Shopify's signature of a redirect: HMAC-SHA256 (hex) of the other parameters sorted, `k=v` joined by `&`. */
export function signRedirect(params: Record<string, string>, secret: string): string {
  const message = Object.keys(params)
    .filter((k) => k !== 'hmac' && k !== 'signature')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return createHmac('sha256', secret).update(message).digest('hex');
}

export function makeOAuth(appByClientId: (clientId: string) => OAuthApp | undefined) {
  const access = new Map<string, IssuedAccess>();
  const refreshes = new Map<string, IssuedRefresh>();
  const codes = new Map<string, IssuedCode>();
  const realNow = () => Date.now();

  function issueAccess(found: OAuthApp, scopes: Set<string>, lifetimeSeconds: number | undefined): string {
    const value = token('shpat');
    access.set(value, { clientId: found.app.clientId, scopes, expiresAt: lifetimeSeconds === undefined ? undefined : realNow() + lifetimeSeconds * 1000, epoch: found.app.epoch });
    return value;
  }

  function expiringPair(found: OAuthApp, scopes: Set<string>, replaced: string | undefined): Record<string, unknown> {
    const { lifetimes } = found.shop;
    const refresh = token('shprt');
    refreshes.set(refresh, { clientId: found.app.clientId, scopes, expiresAt: realNow() + lifetimes.refreshTokenSeconds * 1000, epoch: found.app.epoch, replaced, retired: false });
    return {
      access_token: issueAccess(found, scopes, lifetimes.expiringOfflineSeconds),
      scope: [...scopes].sort().join(','),
      expires_in: lifetimes.expiringOfflineSeconds,
      refresh_token: refresh,
      refresh_token_expires_in: lifetimes.refreshTokenSeconds,
    };
  }

  function grant(found: OAuthApp, params: Record<string, string>, grantName: TokenGrantName): TokenAnswer {
    const { app, shop } = found;
    if (grantName === 'client_credentials') {
      const body = { access_token: issueAccess(found, new Set(app.scopes), shop.lifetimes.clientCredentialsSeconds), scope: [...app.scopes].sort().join(','), expires_in: shop.lifetimes.clientCredentialsSeconds };
      return { status: 200, body };
    }
    if (grantName === 'authorization_code') {
      const code = codes.get(params['code'] ?? '');
      if (!code || code.clientId !== app.clientId || code.used || code.expiresAt < realNow()) return oauthError(400, 'invalid_grant', 'The authorization code is invalid, expired or already used.');
      code.used = true;
      if (params['expiring'] === '1') return { status: 200, body: expiringPair(found, code.scopes, undefined) };
      return { status: 200, body: { access_token: issueAccess(found, code.scopes, undefined), scope: [...code.scopes].sort().join(',') } };
    }
    const presented = params['refresh_token'] ?? '';
    const record = refreshes.get(presented);
    if (!record || record.clientId !== app.clientId || record.epoch !== app.epoch || record.retired || record.expiresAt < realNow()) {
      return oauthError(400, 'invalid_grant', 'The refresh token is invalid, expired or was replaced.');
    }
    // Using this token retires the one it replaced: only a lost answer may be retried.
    if (record.replaced) {
      const previous = refreshes.get(record.replaced);
      if (previous) previous.retired = true;
    }
    return { status: 200, body: expiringPair(found, record.scopes, presented) };
  }

  return {
    /** `POST /admin/oauth/access_token` with the parameters of its form or JSON body. */
    tokenRequest(params: Record<string, string>): TokenAnswer {
      const clientId = params['client_id'];
      const secret = params['client_secret'];
      if (!clientId || !secret) return oauthError(400, 'invalid_request', 'client_id and client_secret are required.');
      const found = appByClientId(clientId);
      const grantName: TokenGrantName | undefined =
        params['grant_type'] === 'client_credentials' ? 'client_credentials'
        : params['grant_type'] === 'refresh_token' ? 'refresh_token'
        : params['grant_type'] === undefined || params['grant_type'] === 'authorization_code' ? 'authorization_code'
        : undefined;
      if (found) {
        const { faults, random } = found.shop;
        if (faults.tokenEndpointFailNext > 0 || (faults.tokenEndpointErrorRate > 0 && random.chance(faults.tokenEndpointErrorRate))) {
          if (faults.tokenEndpointFailNext > 0) faults.tokenEndpointFailNext -= 1;
          return { status: 503, body: { errors: 'Service Unavailable' } };
        }
      }
      const count = (answer: TokenAnswer): TokenAnswer => {
        if (found && grantName) found.shop.stats.tokenRequests[grantName][answer.status === 200 ? 'issued' : 'refused'] += 1;
        return answer;
      };
      if (!found || found.app.clientSecret !== secret) return count(oauthError(401, 'invalid_client', 'Client authentication failed: unknown client_id or wrong client_secret.'));
      if (!grantName) return oauthError(400, 'unsupported_grant_type', `The grant type "${params['grant_type']}" is not supported.`);
      if (!found.app.installed) return count(oauthError(400, 'invalid_grant', `The app is not installed on ${found.shop.domain}.`));
      if (grantName === 'authorization_code' && !params['code']) return count(oauthError(400, 'invalid_request', 'code is required.'));
      if (grantName === 'refresh_token' && !params['refresh_token']) return count(oauthError(400, 'invalid_request', 'refresh_token is required.'));
      return count(grant(found, params, grantName));
    },

    /**
     * `GET /admin/oauth/authorize`: the simulated merchant approves at once. The app is installed with
     * the requested scopes and the browser is sent to `redirect_uri` with a signed code.
     */
    authorize(params: Record<string, string>): { status: number; location?: string; message?: string } {
      const found = appByClientId(params['client_id'] ?? '');
      if (!found) return { status: 400, message: 'Unknown client_id: no such app.' };
      const redirectUri = params['redirect_uri'] ?? '';
      let redirect: URL;
      try {
        redirect = new URL(redirectUri);
      } catch {
        return { status: 400, message: 'redirect_uri must be an absolute URL.' };
      }
      if (found.app.redirectUrls.length > 0 && !found.app.redirectUrls.includes(redirectUri)) {
        return { status: 400, message: `The redirect_uri is not allowed for this app (allowed: ${found.app.redirectUrls.join(', ')}).` };
      }
      const requested = (params['scope'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
      const unknown = requested.filter((s) => !isScopeHandle(s));
      if (unknown.length > 0) return { status: 400, message: `Unknown access scopes: ${unknown.join(', ')}.` };
      found.app.installed = true;
      found.app.scopes = new Set(requested);
      const code = randomBytes(16).toString('hex');
      codes.set(code, { clientId: found.app.clientId, scopes: new Set(requested), expiresAt: realNow() + 10 * 60_000, used: false });
      const answer: Record<string, string> = {
        code,
        host: Buffer.from(`${found.shop.domain}/admin`).toString('base64url'),
        shop: found.shop.domain,
        timestamp: String(Math.floor(realNow() / 1000)),
        ...(params['state'] !== undefined ? { state: params['state'] } : {}),
      };
      answer['hmac'] = signRedirect(answer, found.app.clientSecret);
      for (const [k, v] of Object.entries(answer)) redirect.searchParams.set(k, v);
      return { status: 302, location: redirect.toString() };
    },

    /** The app and scopes of an issued access token; `expired` when it no longer works; undefined when unknown. */
    lookup(value: string): { found: OAuthApp; scopes: Set<string> } | 'expired' | undefined {
      const issued = access.get(value);
      if (!issued) return undefined;
      const found = appByClientId(issued.clientId);
      if (!found || !found.app.installed || found.app.epoch !== issued.epoch || (issued.expiresAt !== undefined && issued.expiresAt <= realNow())) {
        if (found) found.shop.stats.expiredTokenCalls += 1;
        return 'expired';
      }
      return { found, scopes: issued.scopes };
    },

    /** Live access tokens of an app with their expiry (tests). */
    liveTokens(clientId: string): Array<{ expiresAt: number | undefined }> {
      return [...access.values()].filter((t) => t.clientId === clientId && (t.expiresAt === undefined || t.expiresAt > realNow())).map((t) => ({ expiresAt: t.expiresAt }));
    },
  };
}
