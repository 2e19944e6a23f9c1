// The access token every call to Shopify carries, wherever it comes from: a legacy custom app's static
// token, or a token Switchyard obtains itself (client credentials grant; or the refresh of an expiring
// offline token from an install). Obtained tokens live in `shopify_credentials`, sealed, shared by every
// process: one process renews at a time under a lease, the others wait and read what it stored. A
// renewal happens ahead of expiry and once more when Shopify answers 401. When renewing fails, calls
// wait (`shopify.credentials_unavailable`, with the reason) under a growing back-off, and resume by
// themselves when Shopify gives a token again. See docs/decisions/0015-connecting-to-shopify.md.
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../platform/db/client.js';
import { AppError } from '../platform/errors.js';
import type { Logger } from '../platform/logger.js';
import { THIS_PROCESS } from '../platform/processes.js';
import { shopifyCredentials, type CredentialFailure } from './credentials.schema.js';
import { keyFromSecret, makeSecretBox, type SecretBox } from './secret-box.js';
import { makeTokenEndpoint, TokenEndpointError, type IssuedToken, type TokenEndpoint } from './token-endpoint.js';

export type ShopifyGrant = 'static' | 'client_credentials' | 'authorization_code';

export interface CredentialsStatus {
  grant: ShopifyGrant;
  /** `connected`, `waiting` (renewing failed: retried at `nextAttemptAt`), `not_installed`. */
  status: 'connected' | 'waiting' | 'not_installed';
  accessTokenExpiresAt: string | null;
  refreshTokenExpiresAt: string | null;
  renewedAt: string | null;
  renewals: number;
  failure: CredentialFailure | null;
  nextAttemptAt: string | null;
}

export interface AccessTokens {
  readonly grant: ShopifyGrant;
  /** The token to send now, renewed first when it is about to expire. */
  current(): Promise<string>;
  /** Shopify answered 401 to `token`: a newer token to try once, or undefined when there is none. */
  refused(token: string): Promise<string | undefined>;
  status(): Promise<CredentialsStatus>;
}

export function staticAccessToken(token: string): AccessTokens {
  return {
    grant: 'static',
    current: () => Promise.resolve(token),
    refused: () => Promise.resolve(undefined),
    status: () =>
      Promise.resolve({
        grant: 'static',
        status: 'connected',
        accessTokenExpiresAt: null,
        refreshTokenExpiresAt: null,
        renewedAt: null,
        renewals: 0,
        failure: null,
        nextAttemptAt: null,
      }),
  };
}

export interface StoredTokensOptions {
  db: Db;
  shop: string;
  grant: 'client_credentials' | 'authorization_code';
  endpoint: TokenEndpoint;
  box: SecretBox;
  logger: Logger;
  /** Where a person installs the app (authorization code grant): named when nothing is installed. */
  installUrl?: string;
  /** Called when a token is obtained again after renewing had failed (the sync can pick up). */
  onRecovered?: () => void;
  /** How long one renewal may hold the claim; longer than a token request can take. */
  leaseMs?: number;
  /** How long a call waits for another process's renewal before it gives up for now. */
  waitForOthersMs?: number;
  now?: () => number;
}

type Row = typeof shopifyCredentials.$inferSelect;

interface Held {
  token: string;
  generation: number;
  expiresAt: number | undefined;
  issuedAt: number;
}

let claimSequence = 0;

/** Back-off between failing renewals: 5 s, doubling, at most 5 minutes (a fixed secret is picked up within 5 minutes). */
export const renewalBackoffMs = (attempts: number) => Math.min(300_000, 5_000 * 2 ** Math.max(0, attempts - 1));

// eslint-disable-next-line max-lines-per-function -- a factory: the token source's methods are closures over the one cached token, its lease and its back-off
export function storedAccessTokens(options: StoredTokensOptions): AccessTokens {
  const { db, shop, box, endpoint, logger } = options;
  const now = options.now ?? Date.now;
  const leaseMs = options.leaseMs ?? 60_000;
  const waitForOthersMs = options.waitForOthersMs ?? 30_000;
  const log = logger.child({ shop, grant: options.grant });
  const me = `${THIS_PROCESS}:${(claimSequence += 1)}`;
  let held: Held | undefined;
  let inFlight: Promise<string> | undefined;
  let lastFailureCode: string | undefined;

  // Renew a quarter of the lifetime ahead, at most 5 minutes: a 60 s token at 45 s, a day's at 23 h 55.
  const fresh = (h: Held) =>
    h.expiresAt === undefined || h.expiresAt - now() > Math.min(300_000, (h.expiresAt - h.issuedAt) / 4);
  const usable = (h: Held) => h.expiresAt === undefined || h.expiresAt - now() > 2_000;

  const context = (field: string) => `${shop}/${field}`;

  function heldOf(row: Row | undefined): Held | undefined {
    if (!row?.accessToken || row.grant !== options.grant) return undefined;
    const token = box.open(row.accessToken, context('access_token'));
    if (token === undefined) return undefined;
    return {
      token,
      generation: row.generation,
      expiresAt: row.accessExpiresAt?.getTime(),
      issuedAt: row.renewedAt?.getTime() ?? now(),
    };
  }

  async function readRow(): Promise<Row | undefined> {
    const [row] = await db.select().from(shopifyCredentials).where(eq(shopifyCredentials.shop, shop));
    return row;
  }

  /** Takes the renewal claim when nobody holds it (or a holder's claim ran out); the row as claimed. */
  async function claim(): Promise<Row | undefined> {
    await db.insert(shopifyCredentials).values({ shop, grant: options.grant }).onConflictDoNothing();
    const at = new Date(now());
    const [row] = await db
      .update(shopifyCredentials)
      .set({ renewingBy: me, renewingUntil: new Date(now() + leaseMs) })
      .where(
        sql`${shopifyCredentials.shop} = ${shop} and (${shopifyCredentials.renewingUntil} is null or ${shopifyCredentials.renewingUntil} < ${at} or ${shopifyCredentials.renewingBy} = ${me})`,
      )
      .returning();
    return row;
  }

  async function release(): Promise<void> {
    await db
      .update(shopifyCredentials)
      .set({ renewingBy: null, renewingUntil: null })
      .where(sql`${shopifyCredentials.shop} = ${shop} and ${shopifyCredentials.renewingBy} = ${me}`);
  }

  function waiting(failure: CredentialFailure, nextAttemptAt: Date | null): AppError {
    const when = nextAttemptAt ? ` Next try at ${nextAttemptAt.toISOString()}.` : '';
    return new AppError(
      'shopify.credentials_unavailable',
      'unavailable',
      `Waiting for Shopify credentials: ${failure.message}${when}`,
      { reason: failure.code, nextAttemptAt: nextAttemptAt?.toISOString() ?? null },
    );
  }

  function notInstalled(why: string): CredentialFailure {
    return {
      code: 'not_installed',
      message: `${why}${options.installUrl ? ` Install the app: open ${options.installUrl}` : ''}`,
      since: new Date(now()).toISOString(),
      attempts: 0,
    };
  }

  async function store(claimed: Row, issued: IssuedToken): Promise<Held> {
    const at = now();
    const next: Held = {
      token: issued.accessToken,
      generation: claimed.generation + 1,
      expiresAt: issued.expiresInSeconds === undefined ? undefined : at + issued.expiresInSeconds * 1000,
      issuedAt: at,
    };
    const stored = await db
      .update(shopifyCredentials)
      .set({
        grant: options.grant,
        accessToken: box.seal(issued.accessToken, context('access_token')),
        accessExpiresAt: next.expiresAt === undefined ? null : new Date(next.expiresAt),
        // A client-credentials answer has no refresh token; an install's refresh keeps the chain going.
        ...(options.grant === 'authorization_code'
          ? {
              refreshToken: issued.refreshToken ? box.seal(issued.refreshToken, context('refresh_token')) : null,
              refreshExpiresAt: issued.refreshExpiresInSeconds
                ? new Date(at + issued.refreshExpiresInSeconds * 1000)
                : null,
            }
          : {}),
        scope: issued.scope,
        generation: next.generation,
        renewedAt: new Date(at),
        renewingBy: null,
        renewingUntil: null,
        failure: null,
        nextAttemptAt: null,
        updatedAt: new Date(at),
      })
      // Only over the generation this process claimed: had its claim run out and another process
      // renewed meanwhile, that one's tokens are as good and already shared.
      .where(sql`${shopifyCredentials.shop} = ${shop} and ${shopifyCredentials.generation} = ${claimed.generation}`)
      .returning({ generation: shopifyCredentials.generation });
    if (stored.length === 0) {
      const theirs = heldOf(await readRow());
      if (theirs) return theirs;
    }
    const recovered = lastFailureCode !== undefined || claimed.failure !== null;
    lastFailureCode = undefined;
    if (recovered) {
      log.info('Shopify credentials work again');
      options.onRecovered?.();
    }
    log.info(
      {
        expiresAt: next.expiresAt === undefined ? null : new Date(next.expiresAt).toISOString(),
        generation: next.generation,
      },
      'Shopify access token renewed',
    );
    return next;
  }

  /** Records why renewing failed; undefined when newer tokens arrived meanwhile (an install, another renewer): use those. */
  async function recordFailure(
    claimed: Row,
    failure: TokenEndpointError | CredentialFailure,
  ): Promise<AppError | undefined> {
    const attempts = (claimed.failure?.attempts ?? 0) + 1;
    const code = failure.code;
    const message = failure.message;
    const next: CredentialFailure = {
      code,
      message,
      since: claimed.failure?.code === code ? claimed.failure.since : new Date(now()).toISOString(),
      attempts,
    };
    // Nothing to retry until somebody installs the app: the callback clears this.
    const nextAttemptAt = code === 'not_installed' ? null : new Date(now() + renewalBackoffMs(attempts));
    const recorded = await db
      .update(shopifyCredentials)
      .set({ failure: next, nextAttemptAt, renewingBy: null, renewingUntil: null, updatedAt: new Date(now()) })
      // Only over what this process saw: a failure must never cover tokens stored since.
      .where(sql`${shopifyCredentials.shop} = ${shop} and ${shopifyCredentials.generation} = ${claimed.generation}`)
      .returning({ shop: shopifyCredentials.shop });
    if (recorded.length === 0) {
      await release().catch(() => {});
      return undefined;
    }
    if (lastFailureCode !== code)
      log.warn(
        { reason: code, attempts, nextAttemptAt: nextAttemptAt?.toISOString() ?? null },
        `Shopify credentials not available: ${message}`,
      );
    lastFailureCode = code;
    return waiting(next, nextAttemptAt);
  }

  // eslint-disable-next-line complexity -- the renewal loop: read, keep another process's fresh token, wait out a back-off or the lease holder, or renew; each branch is one of those outcomes
  async function renew(rejectedGeneration: number): Promise<string> {
    const deadline = now() + waitForOthersMs;
    for (;;) {
      const row = await readRow();
      const theirs = heldOf(row);
      if (theirs && theirs.generation > rejectedGeneration && fresh(theirs)) return keep(theirs);
      if (row?.nextAttemptAt && row.nextAttemptAt.getTime() > now() && row.failure) {
        // Backing off: a token that still works is better than none.
        if (theirs && theirs.generation > rejectedGeneration && usable(theirs)) return keep(theirs);
        throw waiting(row.failure, row.nextAttemptAt);
      }
      if (row?.failure?.code === 'not_installed' && options.grant === 'authorization_code' && !row.refreshToken)
        throw waiting(row.failure, null);
      const claimed = await claim();
      if (!claimed) {
        // Another process is renewing: a token that still works serves meanwhile.
        if (theirs && theirs.generation > rejectedGeneration && usable(theirs)) return keep(theirs);
        if (now() > deadline)
          throw new AppError(
            'shopify.credentials_unavailable',
            'unavailable',
            'Waiting for Shopify credentials: another process has been renewing the access token for too long; retried later.',
            { reason: 'renewal_busy' },
          );
        await new Promise((r) => setTimeout(r, 200));
        continue;
      }
      try {
        const mine = heldOf(claimed);
        if (mine && mine.generation > rejectedGeneration && fresh(mine)) {
          await release();
          return keep(mine);
        }
        let issued: IssuedToken;
        if (options.grant === 'client_credentials') {
          issued = await endpoint.request({ grant: 'client_credentials' });
        } else {
          const refreshToken =
            claimed.grant === 'authorization_code' && claimed.refreshToken
              ? box.open(claimed.refreshToken, context('refresh_token'))
              : undefined;
          if (refreshToken === undefined) {
            const why =
              claimed.refreshToken && claimed.grant === 'authorization_code'
                ? `The stored refresh token for ${shop} cannot be read with SWITCHYARD_ENCRYPTION_KEY (was the key changed?).`
                : `Switchyard is not installed on ${shop} yet.`;
            const failed = await recordFailure(claimed, notInstalled(why));
            if (failed) throw failed;
            continue;
          }
          if (claimed.refreshExpiresAt && claimed.refreshExpiresAt.getTime() <= now()) {
            const failed = await recordFailure(
              claimed,
              notInstalled(`The refresh token for ${shop} expired on ${claimed.refreshExpiresAt.toISOString()}.`),
            );
            if (failed) throw failed;
            continue;
          }
          issued = await endpoint.request({ grant: 'refresh_token', refreshToken });
        }
        return keep(await store(claimed, issued));
      } catch (error) {
        if (error instanceof TokenEndpointError) {
          const failed = await recordFailure(claimed, error);
          if (failed) throw failed;
          continue;
        }
        await release().catch(() => {});
        throw error;
      }
    }
  }

  function keep(h: Held): string {
    held = h;
    return h.token;
  }

  function renewOnce(rejectedGeneration: number): Promise<string> {
    // One renewal per process at a time; concurrent callers share it.
    inFlight ??= renew(rejectedGeneration).finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  }

  return {
    grant: options.grant,
    async current() {
      if (held && fresh(held)) return held.token;
      try {
        return await renewOnce(-1);
      } catch (error) {
        // Renewing ahead of time failed: the token still has a little while.
        if (held && usable(held)) return held.token;
        throw error;
      }
    },
    async refused(token) {
      let rejected = held?.token === token ? held.generation : undefined;
      if (held?.token === token) held = undefined;
      // Not the token this process holds (it was let go meanwhile): if it is the stored one, only a
      // newer generation helps; otherwise the stored token is already another.
      if (rejected === undefined) {
        const stored = heldOf(await readRow());
        rejected = stored && stored.token === token ? stored.generation : 0;
      }
      // Only a newer generation than the refused token's helps. A renewal already under way for
      // another reason may still hand back the refused token: then ask once more.
      let next = await renewOnce(rejected);
      if (next === token) next = await renewOnce(rejected);
      return next === token ? undefined : next;
    },
    async status() {
      const row = await readRow();
      const failure = row?.failure ?? null;
      const installed =
        options.grant === 'client_credentials' || (row?.grant === 'authorization_code' && row.refreshToken !== null);
      return {
        grant: options.grant,
        status: !installed || failure?.code === 'not_installed' ? 'not_installed' : failure ? 'waiting' : 'connected',
        accessTokenExpiresAt: row?.accessExpiresAt?.toISOString() ?? null,
        refreshTokenExpiresAt: row?.refreshExpiresAt?.toISOString() ?? null,
        renewedAt: row?.renewedAt?.toISOString() ?? null,
        renewals: row?.generation ?? 0,
        failure,
        nextAttemptAt: row?.nextAttemptAt?.toISOString() ?? null,
      };
    },
  };
}

/**
 * Stores the tokens an install gave (the callback of the authorization code grant): the shop's
 * credentials from now on, for every process, with any failure cleared.
 */
export async function storeInstalledTokens(
  db: Db,
  box: SecretBox,
  shop: string,
  issued: IssuedToken,
  at: number = Date.now(),
): Promise<void> {
  const values = {
    grant: 'authorization_code',
    accessToken: box.seal(issued.accessToken, `${shop}/access_token`),
    accessExpiresAt: issued.expiresInSeconds === undefined ? null : new Date(at + issued.expiresInSeconds * 1000),
    refreshToken: issued.refreshToken ? box.seal(issued.refreshToken, `${shop}/refresh_token`) : null,
    refreshExpiresAt: issued.refreshExpiresInSeconds ? new Date(at + issued.refreshExpiresInSeconds * 1000) : null,
    scope: issued.scope,
    renewedAt: new Date(at),
    renewingBy: null,
    renewingUntil: null,
    failure: null,
    nextAttemptAt: null,
    updatedAt: new Date(at),
  };
  await db
    .insert(shopifyCredentials)
    .values({ shop, ...values, generation: 1 })
    .onConflictDoUpdate({
      target: shopifyCredentials.shop,
      set: { ...values, generation: sql`${shopifyCredentials.generation} + 1` },
    });
}

export interface ConnectionSettings {
  shop: string;
  auth:
    { grant: 'static'; adminToken: string } | { grant: 'client_credentials' | 'authorization_code'; clientId: string };
  apiSecret: string;
  encryptionKey: Buffer | undefined;
  apiUrl: string | undefined;
}

/** A Dev Dashboard app's token endpoint, and the sealing of the tokens it gives (the token source's and the install's). */
export function tokenEndpointAndBox(
  settings: ConnectionSettings,
  clientId: string,
): { endpoint: TokenEndpoint; box: SecretBox } {
  return {
    endpoint: makeTokenEndpoint({
      shop: settings.shop,
      clientId,
      clientSecret: settings.apiSecret,
      apiUrl: settings.apiUrl,
    }),
    box: makeSecretBox(settings.encryptionKey ?? keyFromSecret(settings.apiSecret)),
  };
}

/** The token source a configuration asks for (every process builds its own; obtained tokens are shared through the database). */
export function accessTokensFor(
  settings: ConnectionSettings,
  deps: { db: Db; logger: Logger; installUrl?: string; onRecovered?: () => void },
): AccessTokens {
  if (settings.auth.grant === 'static') return staticAccessToken(settings.auth.adminToken);
  return storedAccessTokens({
    db: deps.db,
    shop: settings.shop,
    grant: settings.auth.grant,
    ...tokenEndpointAndBox(settings, settings.auth.clientId),
    logger: deps.logger,
    ...(deps.installUrl ? { installUrl: deps.installUrl } : {}),
    ...(deps.onRecovered ? { onRecovered: deps.onRecovered } : {}),
  });
}
