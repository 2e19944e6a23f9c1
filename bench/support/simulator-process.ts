// A simulator in its own process (one core), for benchmarks: prints its URL and credentials as JSON.
import { startSimulator } from '../../src/simulator/server.js';
import { placeOrder } from '../../src/simulator/orders.js';

const [products, stores, orders] = process.argv.slice(2).map(Number) as [number, number, number];
const sim = await startSimulator();
// A huge bucket on the fastest plan: the benchmark measures the simulator, not the rate limit.
const credentials = sim.createShop({ seed: 1, products, stores, plan: 'enterprise', bucketFactor: 1_000_000 });
const shop = sim.shop(credentials.shop);
const variants = [...shop.variants.values()];
for (let i = 0; i < orders; i++) {
  const variant = variants[i % variants.length]!;
  variant.inventoryPolicy = 'CONTINUE';
  placeOrder(shop, {
    lines: [
      { variantId: variant.id, quantity: 1 },
      { variantId: variants[(i * 7 + 3) % variants.length]!.id, quantity: 2 },
    ],
    shipping: 'standard',
  });
}
process.stdout.write(`${JSON.stringify({ url: sim.url, ...credentials })}\n`);
process.on('SIGTERM', () => void sim.close().then(() => process.exit(0)));
