// The official Shopify Admin API client, pointed at the simulator over real HTTP. The client forces
// https://{shop}/admin/api/...; customFetchApi sends the same request to the simulator instead.
import { createAdminApiClient, type AdminApiClient } from '@shopify/admin-api-client';
import type { ShopCredentials } from '../../src/simulator/server.js';

export function officialClient(
  simulatorUrl: string,
  credentials: ShopCredentials,
  apiVersion = credentials.apiVersion,
): AdminApiClient {
  return createAdminApiClient({
    storeDomain: credentials.shop,
    apiVersion,
    accessToken: credentials.accessToken,
    customFetchApi: (url, init) => fetch(String(url).replace(/^https:\/\/[^/]+/, simulatorUrl), init),
  });
}

/** A raw POST to the simulator's Admin endpoint (for status codes the client hides). */
export async function rawGraphQL(simulatorUrl: string, accessToken: string, body: unknown, apiVersion = '2026-07') {
  const response = await fetch(`${simulatorUrl}/admin/api/${apiVersion}/graphql.json`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-shopify-access-token': accessToken },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: JSON.parse(text) as Record<string, any> };
}
