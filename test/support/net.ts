import { createServer } from 'node:net';

/** A TCP port free right now on 127.0.0.1 (for a server whose URL must be known before it listens). */
export function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}
