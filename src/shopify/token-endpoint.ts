// Shopify's OAuth token endpoint, `POST https://{shop}/admin/oauth/access_token`, for the three grants
// Switchyard uses: client credentials (an app of the merchant's own organization), the authorization
// code of an install (with `expiring=1`: an offline token of about an hour plus a refresh token), and
// the refresh of such a token (each refresh answers a new refresh token). Tokens are never logged.

export type TokenGrant =
  | { grant: 'client_credentials' }
  | { grant: 'authorization_code'; code: string }
  | { grant: 'refresh_token'; refreshToken: string };

export interface IssuedToken {
  accessToken: string;
  scope: string;
  /** Absent: the token does not expire (a legacy non-expiring offline token). */
  expiresInSeconds: number | undefined;
  refreshToken: string | undefined;
  refreshExpiresInSeconds: number | undefined;
}

/**
 * Why the endpoint refused: `invalid_client` (the client ID or secret is wrong, or the secret was
 * revoked), `invalid_grant` (the code or refresh token is not good: the app must be installed again),
 * `unavailable` (Shopify did not answer usefully: try again later), `refused` (anything else).
 */
export type TokenFailureCode = 'invalid_client' | 'invalid_grant' | 'unavailable' | 'refused';

export class TokenEndpointError extends Error {
  override readonly name = 'TokenEndpointError';
  constructor(
    readonly code: TokenFailureCode,
    message: string,
    readonly status: number | undefined,
  ) {
    super(message);
  }
}

export interface TokenEndpointOptions {
  shop: string;
  clientId: string;
  clientSecret: string;
  /** Where the shop's admin is, when not https://{shop} (the simulator). */
  apiUrl?: string | undefined;
  timeoutMs?: number;
  /** Quick tries within one request for HTTP 5xx, 429 and network failures. */
  attempts?: number;
  baseDelayMs?: number;
}

export interface TokenEndpoint {
  readonly url: string;
  request(grant: TokenGrant): Promise<IssuedToken>;
}

export function makeTokenEndpoint(options: TokenEndpointOptions): TokenEndpoint {
  const base = (options.apiUrl ?? `https://${options.shop}`).replace(/\/+$/, '');
  const url = `${base}/admin/oauth/access_token`;
  const attempts = options.attempts ?? 3;
  const baseDelayMs = options.baseDelayMs ?? 500;
  const timeoutMs = options.timeoutMs ?? 15_000;

  async function once(grant: TokenGrant): Promise<IssuedToken> {
    const form = new URLSearchParams({ client_id: options.clientId, client_secret: options.clientSecret });
    if (grant.grant === 'client_credentials') form.set('grant_type', 'client_credentials');
    if (grant.grant === 'authorization_code') {
      form.set('code', grant.code);
      form.set('expiring', '1');
    }
    if (grant.grant === 'refresh_token') {
      form.set('grant_type', 'refresh_token');
      form.set('refresh_token', grant.refreshToken);
    }
    let response: Response;
    try {
      response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: form.toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new TokenEndpointError(
        'unavailable',
        `Shopify's token endpoint did not answer (${error instanceof Error ? error.message : String(error)}).`,
        undefined,
      );
    }
    const text = await response.text().catch(() => '');
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
    } catch {
      // not JSON: judged by the status below
    }
    if (response.ok && typeof body['access_token'] === 'string' && body['access_token'] !== '') {
      const seconds = (key: string) =>
        typeof body[key] === 'number' && Number.isFinite(body[key]) && (body[key] as number) > 0
          ? (body[key] as number)
          : undefined;
      return {
        accessToken: body['access_token'],
        scope: typeof body['scope'] === 'string' ? body['scope'] : '',
        expiresInSeconds: seconds('expires_in'),
        refreshToken:
          typeof body['refresh_token'] === 'string' && body['refresh_token'] !== '' ? body['refresh_token'] : undefined,
        refreshExpiresInSeconds: seconds('refresh_token_expires_in'),
      };
    }
    // Shopify's words, cut short: an error description never holds a token.
    const error = typeof body['error'] === 'string' ? body['error'] : undefined;
    const description =
      typeof body['error_description'] === 'string' ? body['error_description'].slice(0, 300) : undefined;
    const said = [error, description].filter(Boolean).join(': ') || `HTTP ${response.status}`;
    if (response.status >= 500 || response.status === 429) {
      throw new TokenEndpointError(
        'unavailable',
        `Shopify's token endpoint failed (HTTP ${response.status}${error ? `, ${error}` : ''}).`,
        response.status,
      );
    }
    if (response.ok)
      throw new TokenEndpointError(
        'unavailable',
        `Shopify's token endpoint answered without an access token (HTTP ${response.status}).`,
        response.status,
      );
    if (error === 'invalid_client' || response.status === 401) {
      throw new TokenEndpointError(
        'invalid_client',
        `Shopify refused the app's client ID or secret (${said}): check SHOPIFY_CLIENT_ID and SHOPIFY_API_SECRET, and that the secret was not rotated in the Dev Dashboard.`,
        response.status,
      );
    }
    if (error === 'invalid_grant') {
      const what =
        grant.grant === 'refresh_token'
          ? 'the refresh token'
          : grant.grant === 'authorization_code'
            ? 'the install code'
            : 'the grant';
      throw new TokenEndpointError(
        'invalid_grant',
        `Shopify refused ${what} (${said}): the app was uninstalled or its access revoked; install it again.`,
        response.status,
      );
    }
    throw new TokenEndpointError('refused', `Shopify's token endpoint refused the request (${said}).`, response.status);
  }

  return {
    url,
    async request(grant) {
      for (let attempt = 1; ; attempt += 1) {
        try {
          return await once(grant);
        } catch (error) {
          // A refresh token is retried only on no answer at all or a 5xx: Shopify keeps the old one
          // usable until its replacement is used, so trying again after a lost answer is safe.
          // An install code is good once: after a lost answer it cannot be tried again.
          const retriable =
            error instanceof TokenEndpointError && error.code === 'unavailable' && grant.grant !== 'authorization_code';
          if (!retriable || attempt >= attempts) throw error;
          await new Promise((r) => setTimeout(r, baseDelayMs * 2 ** (attempt - 1) * (0.5 + Math.random())));
        }
      }
    },
  };
}
