// How Shopify issues access tokens since 2026, at `POST /admin/oauth/access_token` and
// `GET /admin/oauth/authorize` (the shop is found by the app's client ID; at Shopify it is the host):
// - client credentials (an app of the merchant's own organization): a token of about a day;
// - an install's authorization code, traded once (within 10 minutes) for an offline token, which with
//   `expiring=1` lasts an hour and comes with a refresh token (90 days);
// - the refresh of such a token: a new pair each time. The refresh token used can be sent again until
//   the app uses its replacement (Shopify keeps it for a lost answer), for at most 30 days after its
//   first use; from then on it is refused, and so is every other replacement issued for it.
// Every token carries the scopes granted when it was issued; an expired token is answered 401 like an
// unknown one; rotating the client secret or uninstalling the app ends every token and code issued so far.
import { createHmac, randomBytes } from 'node:crypto';
import type { Random } from './seed.js';
import { isScopeHandle } from './scopes.js';
import type { SimApp } from './views.js';

export interface TokenLifetimes {
  clientCredentialsSeconds: number;
  expiringOfflineSeconds: number;
  refreshTokenSeconds: number;
  /** How long after its first use a refresh token may be sent again (while its replacement is unused). */
  refreshRetrySeconds: number;
}

/** Shopify's documented lifetimes. */
export const SHOPIFY_TOKEN_LIFETIMES: TokenLifetimes = {
  clientCredentialsSeconds: 86_399,
  expiringOfflineSeconds: 3_600,
  refreshTokenSeconds: 7_776_000,
  refreshRetrySeconds: 2_592_000,
};

export type TokenGrantName = 'client_credentials' | 'authorization_code' | 'refresh_token';

export interface TokenStats {
  issued: number;
  refused: number;
  /** Answered 503 by a token endpoint fault. */
  unavailable: number;
}

/** What the token endpoint needs of the app's shop. */
export interface OAuthShop {
  domain: string;
  lifetimes: TokenLifetimes;
  faults: { tokenEndpointErrorRate: number; tokenEndpointFailNext: number };
  random: Random;
  stats: {
    tokenRequests: Record<TokenGrantName, TokenStats>;
    expiredTokenCalls: number;
    revokedTokenCalls: number;
    faultsInjected: number;
  };
}

export interface OAuthApp {
  app: SimApp;
  shop: OAuthShop;
}

interface IssuedAccess {
  clientId: string;
  grant: TokenGrantName;
  scopes: Set<string>;
  /** Real time (ms); undefined: never expires. */
  expiresAt: number | undefined;
  epoch: number;
}

interface IssuedRefresh {
  clientId: string;
  expiresAt: number;
  epoch: number;
  /** The refresh token this one replaced: retired once this one is used. */
  replaced: string | undefined;
  /** The refresh tokens issued for this one (one per retry). */
  replacements: string[];
  /** Real time (ms) of the first refresh made with it: retries are allowed for a while after. */
  firstUsedAt: number | undefined;
  retired: boolean;
}

interface IssuedCode {
  clientId: string;
  scopes: Set<string>;
  expiresAt: number;
  epoch: number;
  used: boolean;
}

/** A token the app no longer may use: past its expiry, or ended by a rotated secret or an uninstall. */
export type DeadToken = 'expired' | 'revoked';

export interface LiveToken {
  grant: TokenGrantName;
  scopes: string[];
  /** Real time (ms); undefined: never expires. */
  expiresAt: number | undefined;
}

export interface TokenAnswer {
  status: number;
  body: Record<string, unknown>;
}

const token = (prefix: string) => `${prefix}_${randomBytes(16).toString('hex')}`;
const oauthError = (status: number, error: string, description: string): TokenAnswer => ({
  status,
  body: { error, error_description: description },
});

/** Shopify's signature of a redirect: HMAC-SHA256 (hex) of the other parameters sorted, `k=v` joined by `&`. */
export function signRedirect(params: Record<string, string>, secret: string): string {
  const message = Object.keys(params)
    .filter((k) => k !== 'hmac' && k !== 'signature')
    .sort()
    .map((k) => `${k}=${params[k]}`)
    .join('&');
  return createHmac('sha256', secret).update(message).digest('hex');
}

// eslint-disable-next-line max-lines-per-function -- a factory: the simulated OAuth endpoints are closures over the issued tokens, refresh tokens and codes
export function makeOAuth(appByClientId: (clientId: string) => OAuthApp | undefined) {
  const access = new Map<string, IssuedAccess>();
  const refreshes = new Map<string, IssuedRefresh>();
  const codes = new Map<string, IssuedCode>();
  const realNow = () => Date.now();

  function issueAccess(
    found: OAuthApp,
    grant: TokenGrantName,
    scopes: Set<string>,
    lifetimeSeconds: number | undefined,
  ): string {
    const value = token('shpat');
    access.set(value, {
      clientId: found.app.clientId,
      grant,
      scopes,
      expiresAt: lifetimeSeconds === undefined ? undefined : realNow() + lifetimeSeconds * 1000,
      epoch: found.app.epoch,
    });
    return value;
  }

  function expiringPair(
    found: OAuthApp,
    grant: TokenGrantName,
    scopes: Set<string>,
    replaced: string | undefined,
  ): Record<string, unknown> {
    const { lifetimes } = found.shop;
    const refresh = token('shprt');
    refreshes.set(refresh, {
      clientId: found.app.clientId,
      expiresAt: realNow() + lifetimes.refreshTokenSeconds * 1000,
      epoch: found.app.epoch,
      replaced,
      replacements: [],
      firstUsedAt: undefined,
      retired: false,
    });
    if (replaced !== undefined) refreshes.get(replaced)?.replacements.push(refresh);
    return {
      access_token: issueAccess(found, grant, scopes, lifetimes.expiringOfflineSeconds),
      scope: [...scopes].sort().join(','),
      expires_in: lifetimes.expiringOfflineSeconds,
      refresh_token: refresh,
      refresh_token_expires_in: lifetimes.refreshTokenSeconds,
    };
  }

  /** Whether a refresh token may still be traded: live, of the app's current secret, not retired, retry window open. */
  function refreshable(
    record: IssuedRefresh | undefined,
    { app, shop }: OAuthApp,
    now: number,
  ): record is IssuedRefresh {
    if (
      !record ||
      record.clientId !== app.clientId ||
      record.epoch !== app.epoch ||
      record.retired ||
      record.expiresAt <= now
    )
      return false;
    return record.firstUsedAt === undefined || now < record.firstUsedAt + shop.lifetimes.refreshRetrySeconds * 1000;
  }

  function grant(found: OAuthApp, params: Record<string, string>, grantName: TokenGrantName): TokenAnswer {
    const { app, shop } = found;
    if (grantName === 'client_credentials') {
      const body = {
        access_token: issueAccess(found, grantName, new Set(app.scopes), shop.lifetimes.clientCredentialsSeconds),
        scope: [...app.scopes].sort().join(','),
        expires_in: shop.lifetimes.clientCredentialsSeconds,
      };
      return { status: 200, body };
    }
    const now = realNow();
    if (grantName === 'authorization_code') {
      const code = codes.get(params['code'] ?? '');
      if (!code || code.clientId !== app.clientId || code.epoch !== app.epoch || code.used || code.expiresAt <= now)
        return oauthError(400, 'invalid_grant', 'The authorization code is invalid, expired or already used.');
      code.used = true;
      if (params['expiring'] === '1')
        return { status: 200, body: expiringPair(found, grantName, code.scopes, undefined) };
      return {
        status: 200,
        body: {
          access_token: issueAccess(found, grantName, code.scopes, undefined),
          scope: [...code.scopes].sort().join(','),
        },
      };
    }
    const presented = params['refresh_token'] ?? '';
    const record = refreshes.get(presented);
    if (!refreshable(record, found, now))
      return oauthError(400, 'invalid_grant', 'The refresh token is invalid, expired or was replaced.');
    record.firstUsedAt ??= now;
    // Using a replacement retires the token it replaced, and the other replacements issued for it
    // (answers the app did not keep): one chain goes on.
    const previous = record.replaced === undefined ? undefined : refreshes.get(record.replaced);
    if (previous) {
      previous.retired = true;
      for (const sibling of previous.replacements) if (sibling !== presented) refreshes.get(sibling)!.retired = true;
    }
    // The scopes granted now: a refresh issues a new token.
    return { status: 200, body: expiringPair(found, grantName, new Set(app.scopes), presented) };
  }

  return {
    /** `POST /admin/oauth/access_token` with the parameters of its form or JSON body. */
    tokenRequest(params: Record<string, string>): TokenAnswer {
      const clientId = params['client_id'];
      const secret = params['client_secret'];
      if (!clientId || !secret) return oauthError(400, 'invalid_request', 'client_id and client_secret are required.');
      const found = appByClientId(clientId);
      const grantName: TokenGrantName | undefined =
        params['grant_type'] === 'client_credentials'
          ? 'client_credentials'
          : params['grant_type'] === 'refresh_token'
            ? 'refresh_token'
            : params['grant_type'] === undefined || params['grant_type'] === 'authorization_code'
              ? 'authorization_code'
              : undefined;
      if (found) {
        const { faults, random } = found.shop;
        if (
          faults.tokenEndpointFailNext > 0 ||
          (faults.tokenEndpointErrorRate > 0 && random.chance(faults.tokenEndpointErrorRate))
        ) {
          if (faults.tokenEndpointFailNext > 0) faults.tokenEndpointFailNext -= 1;
          found.shop.stats.faultsInjected += 1;
          if (grantName) found.shop.stats.tokenRequests[grantName].unavailable += 1;
          return { status: 503, body: { errors: 'Service Unavailable' } };
        }
      }
      const count = (answer: TokenAnswer): TokenAnswer => {
        if (found && grantName)
          found.shop.stats.tokenRequests[grantName][answer.status === 200 ? 'issued' : 'refused'] += 1;
        return answer;
      };
      if (!found || found.app.clientSecret !== secret)
        return count(
          oauthError(401, 'invalid_client', 'Client authentication failed: unknown client_id or wrong client_secret.'),
        );
      if (!grantName)
        return oauthError(400, 'unsupported_grant_type', `The grant type "${params['grant_type']}" is not supported.`);
      if (!found.app.installed)
        return count(oauthError(400, 'invalid_grant', `The app is not installed on ${found.shop.domain}.`));
      if (grantName === 'authorization_code' && !params['code'])
        return count(oauthError(400, 'invalid_request', 'code is required.'));
      if (grantName === 'refresh_token' && !params['refresh_token'])
        return count(oauthError(400, 'invalid_request', 'refresh_token is required.'));
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
        return {
          status: 400,
          message: `The redirect_uri is not allowed for this app (allowed: ${found.app.redirectUrls.join(', ')}).`,
        };
      }
      const requested = (params['scope'] ?? '')
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      const unknown = requested.filter((s) => !isScopeHandle(s));
      if (unknown.length > 0) return { status: 400, message: `Unknown access scopes: ${unknown.join(', ')}.` };
      found.app.installed = true;
      found.app.scopes = new Set(requested);
      const code = randomBytes(16).toString('hex');
      codes.set(code, {
        clientId: found.app.clientId,
        scopes: new Set(requested),
        expiresAt: realNow() + 10 * 60_000,
        epoch: found.app.epoch,
        used: false,
      });
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

    /** The app and scopes of an issued access token; why it no longer works; undefined when unknown. */
    lookup(value: string): { found: OAuthApp; scopes: Set<string> } | DeadToken | undefined {
      const issued = access.get(value);
      if (!issued) return undefined;
      const found = appByClientId(issued.clientId);
      if (!found) return undefined;
      if (!found.app.installed || found.app.epoch !== issued.epoch) {
        found.shop.stats.revokedTokenCalls += 1;
        return 'revoked';
      }
      if (issued.expiresAt !== undefined && issued.expiresAt <= realNow()) {
        found.shop.stats.expiredTokenCalls += 1;
        return 'expired';
      }
      return { found, scopes: issued.scopes };
    },

    /** The access tokens of an app that still work, oldest first (tests). */
    liveTokens(clientId: string): LiveToken[] {
      const app = appByClientId(clientId)?.app;
      if (!app?.installed) return [];
      const now = realNow();
      return [...access.values()]
        .filter(
          (t) => t.clientId === clientId && t.epoch === app.epoch && (t.expiresAt === undefined || t.expiresAt > now),
        )
        .map((t) => ({ grant: t.grant, scopes: [...t.scopes].sort(), expiresAt: t.expiresAt }));
    },
  };
}
