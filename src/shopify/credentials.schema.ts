// How Switchyard holds its Shopify access (docs/decisions/0015-connecting-to-shopify.md). Tokens are
// stored encrypted (AES-256-GCM, src/shopify/secret-box.ts); every process reads them from here, so a
// renewal made by one process serves all, and one renews at a time under a lease.
import { integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

export interface CredentialFailure {
  /** `invalid_client` (wrong or revoked secret), `invalid_grant` (refresh token refused: install again), `unavailable` (token endpoint down), `not_installed`. */
  code: string;
  message: string;
  since: string;
  attempts: number;
}

export const shopifyCredentials = pgTable('shopify_credentials', {
  shop: text('shop').primaryKey(),
  /** `client_credentials` or `authorization_code`. */
  grant: text('grant').notNull(),
  accessToken: text('access_token'),
  accessExpiresAt: ts('access_expires_at'),
  refreshToken: text('refresh_token'),
  refreshExpiresAt: ts('refresh_expires_at'),
  /** The scopes Shopify named with the last token. */
  scope: text('scope'),
  /** Bumped by every new token: a process that saw a token refused knows whether another renewed it since. */
  generation: integer('generation').notNull().default(0),
  renewedAt: ts('renewed_at'),
  /** The process (`host:pid:n`) renewing now, and until when its claim holds (a crashed renewer's claim runs out). */
  renewingBy: text('renewing_by'),
  renewingUntil: ts('renewing_until'),
  failure: jsonb('failure').$type<CredentialFailure>(),
  /** While failing: no process asks Shopify again before this (back-off). */
  nextAttemptAt: ts('next_attempt_at'),
  updatedAt: ts('updated_at').notNull().defaultNow(),
});

/** The `state` nonces of install links: each is good once, for a few minutes. */
export const shopifyOauthStates = pgTable('shopify_oauth_states', {
  state: text('state').primaryKey(),
  shop: text('shop').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  expiresAt: ts('expires_at').notNull(),
  usedAt: ts('used_at'),
});
