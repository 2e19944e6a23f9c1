// Deterministic shop generation: the same seed gives the same shop, id for id.
import { SimShop, type SimAddress } from './state.js';

import { makeRandom, type Random } from '../platform/random.js';

export { makeRandom, type Random };

/** UPC-A: 11 digits and a check digit (3 × odd positions + even positions). */
export function upcA(elevenDigits: string): string {
  if (!/^\d{11}$/.test(elevenDigits)) throw new Error('UPC-A needs 11 digits before the check digit');
  const digits = [...elevenDigits].map(Number);
  const sum = digits.reduce((acc, d, i) => acc + (i % 2 === 0 ? 3 * d : d), 0);
  return elevenDigits + String((10 - (sum % 10)) % 10);
}

export function isValidUpcA(code: string): boolean {
  return /^\d{12}$/.test(code) && upcA(code.slice(0, 11)) === code;
}

interface City {
  city: string;
  province: string;
  provinceCode: string;
  zip: string;
  latitude: number;
  longitude: number;
  streets: string[];
}

/** Real US cities and streets, so distances and store lists look like a retailer's. */
export const CITIES: readonly City[] = [
  {
    city: 'New York',
    province: 'New York',
    provinceCode: 'NY',
    zip: '10001',
    latitude: 40.7506,
    longitude: -73.9972,
    streets: ['Broadway', '5th Avenue', 'W 34th St'],
  },
  {
    city: 'Brooklyn',
    province: 'New York',
    provinceCode: 'NY',
    zip: '11201',
    latitude: 40.6943,
    longitude: -73.9903,
    streets: ['Court St', 'Atlantic Ave', 'Fulton St'],
  },
  {
    city: 'Boston',
    province: 'Massachusetts',
    provinceCode: 'MA',
    zip: '02116',
    latitude: 42.3496,
    longitude: -71.0746,
    streets: ['Newbury St', 'Boylston St'],
  },
  {
    city: 'Philadelphia',
    province: 'Pennsylvania',
    provinceCode: 'PA',
    zip: '19103',
    latitude: 39.9526,
    longitude: -75.1652,
    streets: ['Walnut St', 'Chestnut St'],
  },
  {
    city: 'Washington',
    province: 'District of Columbia',
    provinceCode: 'DC',
    zip: '20001',
    latitude: 38.9072,
    longitude: -77.0369,
    streets: ['M St NW', 'K St NW'],
  },
  {
    city: 'Atlanta',
    province: 'Georgia',
    provinceCode: 'GA',
    zip: '30303',
    latitude: 33.749,
    longitude: -84.388,
    streets: ['Peachtree St', 'Edgewood Ave'],
  },
  {
    city: 'Miami',
    province: 'Florida',
    provinceCode: 'FL',
    zip: '33131',
    latitude: 25.7617,
    longitude: -80.1918,
    streets: ['Brickell Ave', 'Biscayne Blvd'],
  },
  {
    city: 'Chicago',
    province: 'Illinois',
    provinceCode: 'IL',
    zip: '60611',
    latitude: 41.8947,
    longitude: -87.6243,
    streets: ['N Michigan Ave', 'State St'],
  },
  {
    city: 'Detroit',
    province: 'Michigan',
    provinceCode: 'MI',
    zip: '48226',
    latitude: 42.3314,
    longitude: -83.0458,
    streets: ['Woodward Ave', 'Griswold St'],
  },
  {
    city: 'Minneapolis',
    province: 'Minnesota',
    provinceCode: 'MN',
    zip: '55402',
    latitude: 44.9778,
    longitude: -93.265,
    streets: ['Nicollet Mall', 'Hennepin Ave'],
  },
  {
    city: 'Dallas',
    province: 'Texas',
    provinceCode: 'TX',
    zip: '75201',
    latitude: 32.7767,
    longitude: -96.797,
    streets: ['Main St', 'Elm St'],
  },
  {
    city: 'Houston',
    province: 'Texas',
    provinceCode: 'TX',
    zip: '77002',
    latitude: 29.7604,
    longitude: -95.3698,
    streets: ['Travis St', 'Main St'],
  },
  {
    city: 'Austin',
    province: 'Texas',
    provinceCode: 'TX',
    zip: '78701',
    latitude: 30.2672,
    longitude: -97.7431,
    streets: ['Congress Ave', 'E 6th St'],
  },
  {
    city: 'Denver',
    province: 'Colorado',
    provinceCode: 'CO',
    zip: '80202',
    latitude: 39.7392,
    longitude: -104.9903,
    streets: ['16th St Mall', 'Larimer St'],
  },
  {
    city: 'Phoenix',
    province: 'Arizona',
    provinceCode: 'AZ',
    zip: '85004',
    latitude: 33.4484,
    longitude: -112.074,
    streets: ['Central Ave', 'E Washington St'],
  },
  {
    city: 'Las Vegas',
    province: 'Nevada',
    provinceCode: 'NV',
    zip: '89109',
    latitude: 36.1147,
    longitude: -115.1728,
    streets: ['Las Vegas Blvd S', 'Paradise Rd'],
  },
  {
    city: 'Los Angeles',
    province: 'California',
    provinceCode: 'CA',
    zip: '90012',
    latitude: 34.0522,
    longitude: -118.2437,
    streets: ['S Grand Ave', 'W 7th St', 'Melrose Ave'],
  },
  {
    city: 'San Diego',
    province: 'California',
    provinceCode: 'CA',
    zip: '92101',
    latitude: 32.7157,
    longitude: -117.1611,
    streets: ['Broadway', '5th Ave'],
  },
  {
    city: 'San Francisco',
    province: 'California',
    provinceCode: 'CA',
    zip: '94103',
    latitude: 37.7749,
    longitude: -122.4194,
    streets: ['Market St', 'Valencia St', 'Powell St'],
  },
  {
    city: 'Oakland',
    province: 'California',
    provinceCode: 'CA',
    zip: '94612',
    latitude: 37.8044,
    longitude: -122.2712,
    streets: ['Broadway', 'Telegraph Ave'],
  },
  {
    city: 'Portland',
    province: 'Oregon',
    provinceCode: 'OR',
    zip: '97205',
    latitude: 45.5152,
    longitude: -122.6784,
    streets: ['SW Morrison St', 'NW 23rd Ave'],
  },
  {
    city: 'Seattle',
    province: 'Washington',
    provinceCode: 'WA',
    zip: '98101',
    latitude: 47.6062,
    longitude: -122.3321,
    streets: ['Pine St', '1st Ave'],
  },
  {
    city: 'Salt Lake City',
    province: 'Utah',
    provinceCode: 'UT',
    zip: '84101',
    latitude: 40.7608,
    longitude: -111.891,
    streets: ['S Main St', 'W 200 S'],
  },
  {
    city: 'Nashville',
    province: 'Tennessee',
    provinceCode: 'TN',
    zip: '37203',
    latitude: 36.1627,
    longitude: -86.7816,
    streets: ['Broadway', 'Church St'],
  },
  {
    city: 'Charlotte',
    province: 'North Carolina',
    provinceCode: 'NC',
    zip: '28202',
    latitude: 35.2271,
    longitude: -80.8431,
    streets: ['S Tryon St', 'N College St'],
  },
];

const WAREHOUSE_CITIES = ['Dallas', 'Philadelphia', 'Los Angeles', 'Chicago', 'Atlanta'];
const ADJECTIVES = [
  'Classic',
  'Everyday',
  'Trail',
  'Urban',
  'Coastal',
  'Alpine',
  'Heritage',
  'Studio',
  'Summit',
  'Harbor',
];
const NOUNS = [
  'Tee',
  'Hoodie',
  'Jacket',
  'Sneaker',
  'Backpack',
  'Cap',
  'Chino',
  'Sweater',
  'Boot',
  'Scarf',
  'Jean',
  'Parka',
];
const COLOURS = ['Black', 'Navy', 'Olive', 'Sand', 'Rust', 'Grey', 'White'];
const SIZES = ['XS', 'S', 'M', 'L', 'XL'];
const VENDORS = ['Northwind', 'Bluebird Goods', 'Fieldhouse', 'Larkspur'];
const TAGS = ['new', 'sale', 'bestseller', 'organic', 'limited', 'core'];

export interface SeedOptions {
  seed: number;
  products: number;
  stores: number;
  warehouses?: number;
  /** Max variants per product (1 to 5). */
  maxVariants?: number;
  domain?: string;
  now: () => Date;
}

function jitter(random: Random, value: number, spread: number): number {
  return Math.round((value + (random.next() - 0.5) * spread) * 1e6) / 1e6;
}

function address(random: Random, city: City): SimAddress {
  return {
    address1: `${random.int(10, 2999)} ${random.pick(city.streets)}`,
    address2: null,
    city: city.city,
    province: city.province,
    provinceCode: city.provinceCode,
    zip: city.zip,
    country: 'United States',
    countryCode: 'US',
    phone: `+1${random.int(200, 989)}555${String(random.int(0, 9999)).padStart(4, '0')}`,
    latitude: jitter(random, city.latitude, 0.08),
    longitude: jitter(random, city.longitude, 0.08),
  };
}

export function generateShop(options: SeedOptions): SimShop {
  const random = makeRandom(options.seed);
  const domain = options.domain ?? `sim-${options.seed}.myshopify.com`;
  const shop = new SimShop(domain, `Simulated shop ${options.seed}`, 'USD', 'America/New_York', options.now);
  const created = new Date(options.now().getTime() - 400 * 86_400_000);

  const warehouseCount = options.warehouses ?? Math.min(2, WAREHOUSE_CITIES.length);
  for (let w = 0; w < warehouseCount; w++) {
    const city = CITIES.find((c) => c.city === WAREHOUSE_CITIES[w % WAREHOUSE_CITIES.length])!;
    const id = shop.nextId();
    shop.locations.set(id, {
      id,
      name: `${city.city} Distribution Center`,
      kind: 'warehouse',
      address: address(random, city),
      isActive: true,
      fulfillsOnlineOrders: true,
      shipsInventory: true,
      pickupEnabled: false,
      createdAt: created,
      updatedAt: created,
    });
  }
  for (let s = 0; s < options.stores; s++) {
    const city = CITIES[s % CITIES.length]!;
    const round = Math.floor(s / CITIES.length);
    const id = shop.nextId();
    shop.locations.set(id, {
      id,
      name: `${city.city}${round > 0 ? ` ${round + 1}` : ''} Store`,
      kind: 'store',
      address: address(random, city),
      isActive: true,
      fulfillsOnlineOrders: true,
      shipsInventory: false,
      pickupEnabled: true,
      createdAt: created,
      updatedAt: created,
    });
  }

  const maxVariants = Math.max(1, Math.min(5, options.maxVariants ?? 4));
  for (let p = 1; p <= options.products; p++) {
    const title = `${random.pick(ADJECTIVES)} ${random.pick(NOUNS)} ${p}`;
    const handle = title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
    const productId = shop.nextId();
    const colour = random.pick(COLOURS);
    const variantCount = random.int(1, maxVariants);
    const price = (random.int(900, 19900) / 100).toFixed(2);
    const product = {
      id: productId,
      handle,
      title,
      status: 'ACTIVE' as const,
      vendor: random.pick(VENDORS),
      productType: title.split(' ')[1]!,
      tags: [...new Set([random.pick(TAGS), random.pick(TAGS)])].sort(),
      imageUrls: [`https://cdn.shopify.com/s/files/1/0000/0001/products/${handle}.jpg`],
      variantIds: [] as number[],
      metafields: new Map(),
      createdAt: created,
      updatedAt: created,
    };
    shop.products.set(productId, product);
    for (let v = 0; v < variantCount; v++) {
      const variantId = shop.nextId();
      const itemId = shop.nextId();
      const size = SIZES[(v + random.int(0, 1)) % SIZES.length]!;
      shop.variants.set(variantId, {
        id: variantId,
        productId,
        title: `${colour} / ${size}`,
        sku: `SY-${String(p).padStart(5, '0')}-${v + 1}`,
        barcode: upcA(`8${String(options.seed % 1000).padStart(3, '0')}${String(p).padStart(6, '0')}${v + 1}`),
        price,
        position: v + 1,
        inventoryPolicy: 'DENY',
        inventoryItemId: itemId,
        createdAt: created,
        updatedAt: created,
      });
      shop.inventoryItems.set(itemId, {
        id: itemId,
        variantId,
        tracked: true,
        weightGrams: random.int(100, 2500),
        createdAt: created,
        updatedAt: created,
      });
      product.variantIds.push(variantId);
      for (const location of shop.locations.values()) {
        const available =
          location.kind === 'warehouse' ? random.int(0, 200) : random.chance(0.7) ? random.int(0, 20) : 0;
        shop.activate(itemId, location.id, { available });
      }
    }
  }
  return shop;
}
