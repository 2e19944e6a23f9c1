// Calling this process's own Switchyard over HTTP, as a client would (the demo's store bot and the
// day simulation use it), and finding a free port before listening.
import { createServer } from 'node:net';

export type ApiCall = <T = unknown>(method: string, path: string, body?: unknown) => Promise<T>;

/** JSON over HTTP; a non-2xx answer throws `METHOD path: status body`. */
export function apiClient(baseUrl: string, apiToken: string | undefined): ApiCall {
  return async <T = unknown>(method: string, path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(apiToken ? { authorization: `Bearer ${apiToken}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const json = response.status === 204 ? null : await response.json();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`);
    return json as T;
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
