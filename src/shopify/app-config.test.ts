// The shopify.app.toml Switchyard writes for the merchant's app: the scopes `connect` checks and no
// other, the install callback, no webhook topic both declared and registered by Switchyard, and a
// file Shopify CLI can read (valid TOML).
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { describe, expect, test } from 'vitest';
import { appConfigToml, checkAppName, checkAppUrl, checkClientId, DECLARED_WEBHOOK_TOPICS } from './app-config.js';
import { SCOPES_NEEDED, type ScopeNeed } from './scopes.js';
import { HANDLED_TOPICS } from '../ingest/topics.js';
import { isAppError } from '../platform/errors.js';
import { readTestEnvironment } from '../main/config.js';
import { CLI, startChild } from '../../test/support/child.js';

const base = {
  url: 'https://oms.example.com',
  clientId: 'abc',
  apiVersion: '2026-07',
  registeredTopics: HANDLED_TOPICS,
};
const parsed = (toml: string) => parse(toml) as Record<string, any>;

describe('appConfigToml', () => {
  test('the whole file, parsed as TOML', () => {
    expect(parsed(appConfigToml(base))).toEqual({
      client_id: 'abc',
      name: 'Switchyard',
      application_url: 'https://oms.example.com/shopify/install',
      embedded: false,
      access_scopes: {
        scopes:
          'read_customers,read_inventory,read_locations,read_merchant_managed_fulfillment_orders,read_orders,read_products,write_inventory,write_merchant_managed_fulfillment_orders,write_orders',
        use_legacy_install_flow: false,
      },
      auth: { redirect_urls: ['https://oms.example.com/shopify/callback'] },
      webhooks: { api_version: '2026-07' },
    });
  });

  test('the scopes are those of SCOPES_NEEDED, sorted', () => {
    const scopes = parsed(appConfigToml(base)).access_scopes.scopes.split(',');
    expect(scopes).toEqual(SCOPES_NEEDED.map((need) => need.scope).sort());
  });

  test('a scope added to SCOPES_NEEDED is asked for, and named among the essential ones in the comment', () => {
    const needs = SCOPES_NEEDED as ScopeNeed[];
    needs.push({ scope: 'read_returns', essential: true, whatStopsWorking: 'test' });
    try {
      const toml = appConfigToml(base);
      expect(parsed(toml).access_scopes.scopes.split(',')).toContain('read_returns');
      expect(toml.slice(toml.indexOf('cannot connect without'), toml.indexOf('Without the others'))).toContain(
        'read_returns',
      );
    } finally {
      needs.pop();
    }
    expect(appConfigToml(base)).not.toContain('read_returns');
  });

  test('the install callback sits under the URL, a path kept and a trailing slash dropped', () => {
    expect(parsed(appConfigToml({ ...base, url: 'https://example.com/switchyard/' }))).toMatchObject({
      application_url: 'https://example.com/switchyard/shopify/install',
      auth: { redirect_urls: ['https://example.com/switchyard/shopify/callback'] },
    });
  });

  test('no webhook topic is both declared here and registered by Switchyard; the comment names each registered one', () => {
    expect(DECLARED_WEBHOOK_TOPICS.filter((topic) => HANDLED_TOPICS.has(topic))).toEqual([]);
    const toml = appConfigToml(base);
    expect(parsed(toml).webhooks.subscriptions).toBeUndefined();
    const comment = toml.slice(toml.indexOf('[webhooks]'));
    for (const topic of HANDLED_TOPICS) expect(comment).toContain(topic);
    expect(comment).toContain('https://oms.example.com/webhooks/shopify');
  });

  test('without a client ID, a placeholder the merchant is told where to find; the API version as configured', () => {
    const toml = appConfigToml({ ...base, clientId: undefined, apiVersion: '2026-10' });
    expect(parsed(toml)).toMatchObject({
      client_id: 'REPLACE-WITH-THE-APP-CLIENT-ID',
      webhooks: { api_version: '2026-10' },
    });
    expect(toml).toContain("# The app's client ID, from its Settings page in the Dev Dashboard");
  });

  test('a name with quotes and a backslash stays the same through TOML', () => {
    expect(parsed(appConfigToml({ ...base, name: 'OMS "east" \\ 2' })).name).toBe('OMS "east" \\ 2');
  });

  test.each([
    ['https://oms.example.com', 'https://oms.example.com'],
    ['https://oms.example.com/', 'https://oms.example.com'],
    ['  https://OMS.example.com:8443/sy//  ', 'https://oms.example.com:8443/sy'],
    ['http://localhost:8080', 'http://localhost:8080'],
    ['http://127.0.0.1:8080/', 'http://127.0.0.1:8080'],
    ['http://[::1]:8080', 'http://[::1]:8080'],
  ])('URL %j is taken as %j', (raw, url) => {
    expect(checkAppUrl(raw)).toEqual({ ok: true, value: url });
  });

  test.each([
    'http://oms.example.com',
    'http://localhost.example.com',
    'ftp://oms.example.com',
    'oms.example.com',
    'https://oms.example.com/?shop=x',
    'https://oms.example.com?',
    'https://oms.example.com/#top',
    'https://user:pw@oms.example.com',
    'https://oms.exa\nmple.com',
    '',
  ])('URL %j is refused', (raw) => {
    expect(checkAppUrl(raw)).toEqual({ ok: false, expected: expect.stringContaining('must be an https:// URL') });
  });

  test('appConfigToml itself refuses a bad URL, client ID, name or API version', () => {
    const refusal = (input: Partial<typeof base> & { name?: string }) => {
      try {
        appConfigToml({ ...base, ...input });
      } catch (error) {
        if (isAppError(error)) return `${error.code}: ${error.message}`;
        throw error;
      }
      return 'accepted';
    };
    expect(refusal({ url: 'http://oms.example.com' })).toMatch(
      /^shopify\.app_config_invalid: url must be an https:\/\/ URL/,
    );
    expect(refusal({ clientId: 'abc"\ninjected = true' })).toMatch(/^shopify\.app_config_invalid: clientId must be/);
    expect(refusal({ name: 'x'.repeat(31) })).toBe(
      'shopify.app_config_invalid: name must be 1 to 30 characters without control characters',
    );
    expect(refusal({ apiVersion: '2026-05' })).toMatch(
      /^shopify\.app_config_invalid: apiVersion must be a Shopify API version/,
    );
    expect(checkClientId(' 0123456789abcdef0123456789abcdef ')).toEqual({
      ok: true,
      value: '0123456789abcdef0123456789abcdef',
    });
    expect(checkAppName('  ')).toMatchObject({ ok: false });
  });
});

describe('switchyard shopify app-config', () => {
  const env = (extra: Record<string, string> = {}) => ({ PATH: readTestEnvironment().path, ...extra });
  const run = async (args: string[], extra?: Record<string, string>) => {
    const child = startChild(CLI, ['shopify', 'app-config', ...args], env(extra));
    return { code: await child.exited, output: child.output() };
  };

  test('writes the file and the next steps, refuses to overwrite it without --force; refuses a bad or missing URL', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'app-config-'));
    const out = join(dir, 'shopify.app.toml');
    const [written, missing, insecure] = await Promise.all([
      run(['--url', 'https://oms.example.com', '--client-id', 'abc', '--out', out]),
      run(['--out', '-']),
      run(['--url', 'http://oms.example.com', '--out', '-']),
    ]);
    expect(written).toEqual({
      code: 0,
      output: [
        `Wrote ${out}. Next:`,
        '  1. Deploy it: `shopify app deploy` from this folder, or enter its values in a new version of the app in the Dev Dashboard and release it.',
        "  2. Set SHOPIFY_CLIENT_ID and SHOPIFY_API_SECRET (the app's client ID and secret) and run Switchyard at https://oms.example.com.",
        '  3. Install the app on the shop from the Dev Dashboard: Shopify sends you back to https://oms.example.com/shopify/callback.',
        '',
      ].join('\n'),
    });
    expect(readFileSync(out, 'utf8')).toBe(appConfigToml(base));
    expect(missing).toEqual({
      code: 2,
      output:
        'switchyard: Configuration error: --url is required (or set SWITCHYARD_PUBLIC_URL): the https:// URL Shopify reaches Switchyard at\n',
    });
    expect(insecure.code).toBe(2);
    expect(insecure.output).toBe(
      'switchyard: Configuration error: --url must be an https:// URL without query or fragment, like https://oms.example.com (http:// only for localhost or 127.0.0.1) (got "http://oms.example.com")\n',
    );

    writeFileSync(out, '# edited by the merchant\n');
    const [refused, printed] = await Promise.all([
      run(['--url', 'https://other.example.com', '--out', out]),
      // From the environment, to stdout: nothing but the TOML, so it can be piped.
      run(['--out', '-'], { SWITCHYARD_PUBLIC_URL: 'https://oms.example.com/', SHOPIFY_CLIENT_ID: 'abc' }),
    ]);
    expect(refused).toEqual({
      code: 2,
      output: `switchyard: Configuration error: --out names a file that exists: pass --force to overwrite it, or choose another --out (got ${JSON.stringify(out)})\n`,
    });
    expect(readFileSync(out, 'utf8')).toBe('# edited by the merchant\n');
    expect(printed).toEqual({ code: 0, output: appConfigToml(base) });

    const forced = await run(['--url', 'https://oms.example.com', '--out', out, '--force']);
    expect(forced.code).toBe(0);
    expect(forced.output).toContain("1. Put the app's client ID in client_id");
    expect(parsed(readFileSync(out, 'utf8')).client_id).toBe('REPLACE-WITH-THE-APP-CLIENT-ID');
  });
});
