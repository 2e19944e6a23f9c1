// How many Admin API requests per second the simulator answers on one core, for a simple query and
// for an orders page, so that later benchmarks know it is not their bottleneck (target: ≥ 1,000
// simple requests/s). The simulator runs in a child process; this process is the load generator.
// Usage: npx tsx bench/simulator-throughput.ts [--seconds 5] [--runs 3] [--concurrency 32]
import { spawn } from 'node:child_process';
import { Agent, request } from 'node:http';
import { cpus } from 'node:os';
import { once } from 'node:events';

const args = process.argv.slice(2);
const option = (name: string, fallback: number) => {
  const index = args.indexOf(`--${name}`);
  return index >= 0 ? Number(args[index + 1]) : fallback;
};
const seconds = option('seconds', 5);
const runs = option('runs', 3);
const concurrency = option('concurrency', 32);
const sizes = { products: 500, stores: 10, orders: 2000 };

const child = spawn(
  process.execPath,
  [
    '--import',
    'tsx',
    'bench/support/simulator-process.ts',
    String(sizes.products),
    String(sizes.stores),
    String(sizes.orders),
  ],
  {
    stdio: ['ignore', 'pipe', 'inherit'],
  },
);
const [line] = (await once(child.stdout!, 'data')) as [Buffer];
const sim = JSON.parse(line.toString().trim().split('\n')[0]!) as {
  url: string;
  accessToken: string;
  apiVersion: string;
};
const endpoint = new URL(`${sim.url}/admin/api/${sim.apiVersion}/graphql.json`);
const agent = new Agent({ keepAlive: true, maxSockets: concurrency });

function post(body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: endpoint.hostname,
        port: endpoint.port,
        path: endpoint.pathname,
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'x-shopify-access-token': sim.accessToken,
          'content-length': Buffer.byteLength(body),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function measure(body: string): Promise<{ requestsPerSecond: number; errors: number }> {
  const deadline = performance.now() + seconds * 1000;
  let done = 0;
  let errors = 0;
  const worker = async () => {
    while (performance.now() < deadline) {
      const status = await post(body);
      if (status === 200) done += 1;
      else errors += 1;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { requestsPerSecond: Math.round((done / (performance.now() - start)) * 1000), errors };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const queries = {
  simple: '{ shop { name } }',
  ordersPage:
    '{ orders(first: 50, sortKey: UPDATED_AT) { nodes { id name updatedAt lineItems(first: 5) { nodes { id sku quantity currentQuantity } } } } }',
};
const results: Record<string, unknown> = {};
for (const [name, query] of Object.entries(queries)) {
  const body = JSON.stringify({ query });
  await measure(body); // warm-up
  const samples: number[] = [];
  let errors = 0;
  for (let run = 0; run < runs; run++) {
    const sample = await measure(body);
    samples.push(sample.requestsPerSecond);
    errors += sample.errors;
  }
  results[name] = { figure: 'requests per second', unit: 'req/s', median: median(samples), samples, errors };
}
child.kill('SIGTERM');
agent.destroy();
const simple = (results['simple'] as { median: number }).median;
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'simulator-throughput',
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      sizes: { ...sizes, concurrency, secondsPerRun: seconds, runs, ordersPagePageSize: 50 },
      simulatorProcesses: 1,
      results,
      target: { simpleRequestsPerSecond: 1000, met: simple >= 1000 },
    },
    null,
    2,
  )}\n`,
);
