// The `shopify.app.toml` of the Shopify app a merchant creates for Switchyard (Dev Dashboard or
// `shopify app deploy`). Keys as in https://shopify.dev/docs/apps/build/cli-for-apps/app-configuration
// and the app modules of Shopify CLI. The scopes come from SCOPES_NEEDED, the same list `connect`
// checks, so the app asks for exactly what Switchyard needs.
import { invalid } from '../platform/errors.js';
import { hasUnsafeCharacters } from '../platform/text.js';
import { READ_ALL_ORDERS, SCOPES_NEEDED } from './scopes.js';

/** Where Shopify sends the merchant back with the authorization code when the app is installed. */
export const INSTALL_CALLBACK_PATH = '/shopify/callback';
/** Where Shopify opens the app after an install (with ?shop=…): it asks for the token from there. */
export const INSTALL_PATH = '/shopify/install';
/** Where the subscriptions Switchyard registers itself deliver. */
export const WEBHOOK_PATH = '/webhooks/shopify';

/**
 * Topics the TOML declares as app-specific subscriptions: none. Switchyard subscribes to every topic
 * it handles through the Admin API and checks them hourly; a topic declared here as well would be
 * delivered twice, once per subscription.
 */
export const DECLARED_WEBHOOK_TOPICS: readonly string[] = [];

export const DEFAULT_APP_NAME = 'Switchyard';
/** Shopify CLI refuses longer app names. */
const APP_NAME_MAX_CHARS = 30;
const CLIENT_ID_PLACEHOLDER = 'REPLACE-WITH-THE-APP-CLIENT-ID';

export type Checked = { ok: true; value: string } | { ok: false; expected: string };

const LOOPBACK_HOST = /^(localhost|127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\])$/;

/**
 * The public URL Switchyard is reached at, without a trailing slash. https only; http only on this
 * machine (a rehearsal with a tunnel or the simulator), since Shopify sends codes and webhooks there.
 */
export function checkAppUrl(raw: string): Checked {
  const expected =
    'must be an https:// URL without query or fragment, like https://oms.example.com (http:// only for localhost or 127.0.0.1)';
  const text = raw.trim();
  if (text.includes('?') || text.includes('#') || hasUnsafeCharacters(text)) return { ok: false, expected };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, expected };
  }
  const secure = url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK_HOST.test(url.hostname));
  if (!secure || url.username !== '' || url.password !== '') return { ok: false, expected };
  return { ok: true, value: url.href.replace(/\/+$/, '') };
}

export function checkClientId(raw: string): Checked {
  const text = raw.trim();
  return /^[A-Za-z0-9_-]{1,100}$/.test(text)
    ? { ok: true, value: text }
    : { ok: false, expected: "must be the app's client ID (letters and digits, as shown in the Dev Dashboard)" };
}

export function checkAppName(raw: string): Checked {
  const text = raw.trim();
  if (text === '' || [...text].length > APP_NAME_MAX_CHARS || hasUnsafeCharacters(text)) {
    return { ok: false, expected: `must be 1 to ${APP_NAME_MAX_CHARS} characters without control characters` };
  }
  return { ok: true, value: text };
}

export interface AppConfigInput {
  /** Switchyard's public URL (SWITCHYARD_PUBLIC_URL). */
  url: string;
  clientId?: string | undefined;
  name?: string | undefined;
  /** The Admin API version Switchyard uses (SHOPIFY_API_VERSION). */
  apiVersion: string;
  /** Topics Switchyard subscribes to itself at WEBHOOK_PATH (named in a comment, never declared). */
  registeredTopics: Iterable<string>;
}

function checked(field: string, result: Checked): string {
  if (!result.ok) throw invalid('shopify.app_config_invalid', `${field} ${result.expected}`, { field });
  return result.value;
}

/** A TOML basic string; the values are checked above, this keeps quotes and backslashes literal. */
const str = (value: string) => `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;

export function appConfigToml(input: AppConfigInput): string {
  const url = checked('url', checkAppUrl(input.url));
  const clientId = input.clientId === undefined ? undefined : checked('clientId', checkClientId(input.clientId));
  const name = checked('name', checkAppName(input.name ?? DEFAULT_APP_NAME));
  if (!/^(\d{4}-(01|04|07|10)|unstable)$/.test(input.apiVersion)) {
    throw invalid(
      'shopify.app_config_invalid',
      `apiVersion must be a Shopify API version like 2026-07 (got ${JSON.stringify(input.apiVersion)})`,
      { field: 'apiVersion' },
    );
  }
  const registered = [...new Set(input.registeredTopics)].sort();
  const both = DECLARED_WEBHOOK_TOPICS.filter((topic) => registered.includes(topic));
  if (both.length > 0) {
    throw invalid(
      'shopify.app_config_invalid',
      `Topics both declared and registered by Switchyard would be delivered twice: ${both.join(', ')}`,
      { topics: both },
    );
  }

  const scopes = SCOPES_NEEDED.map((need) => need.scope).sort();
  const essential = SCOPES_NEEDED.filter((need) => need.essential)
    .map((need) => need.scope)
    .sort();
  const optional = SCOPES_NEEDED.filter((need) => !need.essential)
    .map((need) => need.scope)
    .sort();

  const lines = [
    '# The Shopify app Switchyard connects through. Deploy with `shopify app deploy` from this folder,',
    '# or enter the same values in a new version of the app in the Dev Dashboard.',
    '# Keys: https://shopify.dev/docs/apps/build/cli-for-apps/app-configuration',
    '',
    ...(clientId === undefined
      ? [
          "# The app's client ID, from its Settings page in the Dev Dashboard (or run this again with --client-id).",
          `client_id = ${str(CLIENT_ID_PLACEHOLDER)}`,
        ]
      : [`client_id = ${str(clientId)}`]),
    `name = ${str(name)}`,
    `application_url = ${str(url + INSTALL_PATH)}`,
    '# Switchyard runs on its own server, not inside the Shopify admin; after an install Shopify opens\n# this page, which asks Shopify for the token (authorization code grant).',
    'embedded = false',
    '',
    '[access_scopes]',
    '# Switchyard cannot connect without:',
    ...wrap(essential, '#   '),
    '# Without the others, Shopify refuses what Switchyard writes back:',
    ...wrap(optional, '#   '),
    `# For an initial load reaching back beyond 60 days (SHOPIFY_INITIAL_LOAD_MONTHS 2 or 6), add ${READ_ALL_ORDERS.scope}.`,
    `scopes = ${str(scopes.join(','))}`,
    '# Shopify grants these scopes when the app is installed; Switchyard then gets its expiring offline',
    '# token with the authorization-code grant at the redirect URL below.',
    'use_legacy_install_flow = false',
    '',
    '[auth]',
    `redirect_urls = [${str(url + INSTALL_CALLBACK_PATH)}]`,
    '',
    '[webhooks]',
    `api_version = ${str(input.apiVersion)}`,
    '# Switchyard subscribes itself, through the Admin API when it connects, to these topics at',
    `# ${url}${WEBHOOK_PATH}, and checks every hour that each subscription is there:`,
    ...wrap(registered, '#   '),
    '# None of them is declared here: a topic subscribed to both ways is delivered twice.',
    ...DECLARED_WEBHOOK_TOPICS.flatMap((topic) => [
      '',
      '[[webhooks.subscriptions]]',
      `topics = [${str(topic)}]`,
      `uri = ${str(WEBHOOK_PATH)}`,
    ]),
  ];
  return `${lines.join('\n')}\n`;
}

/** Comma-separated, in lines of at most about 100 characters. */
function wrap(items: readonly string[], prefix: string): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [i, item] of items.entries()) {
    const piece = `${item}${i < items.length - 1 ? ',' : '.'}`;
    if (line !== '' && prefix.length + line.length + 1 + piece.length > 100) {
      lines.push(prefix + line);
      line = piece;
    } else {
      line = line === '' ? piece : `${line} ${piece}`;
    }
  }
  if (line !== '') lines.push(prefix + line);
  return lines;
}

/** Whether the text still carries the client ID placeholder (the merchant has a step left). */
export const hasClientIdPlaceholder = (toml: string) => toml.includes(str(CLIENT_ID_PLACEHOLDER));
