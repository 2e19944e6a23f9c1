import { RuleTester } from 'eslint';
import { describe, it } from 'vitest';
import { roomsRule } from './rooms.js';

RuleTester.describe = describe;
RuleTester.it = it;
RuleTester.itOnly = it.only;

const srcDir = '/repo/src';
const options = [{ srcDir }];
const at = (file: string) => `${srcDir}/${file}`;
const tester = new RuleTester({ languageOptions: { ecmaVersion: 2022, sourceType: 'module' } });

tester.run('switchyard/rooms', roomsRule as never, {
  valid: [
    {
      filename: at('domains/inventory/inventory.service.ts'),
      code: "import { x } from '../../platform/errors.js';",
      options,
    },
    { filename: at('domains/inventory/inventory.service.ts'), code: "import { x } from './atp.js';", options },
    {
      filename: at('domains/inventory/inventory.schema.ts'),
      code: "import { variants } from '../catalog/index.js';",
      options,
    },
    // a table's foreign key names another domain's table: schema to schema
    {
      filename: at('domains/inventory/inventory.schema.ts'),
      code: "import { variants } from '../catalog/catalog.schema.js';",
      options,
    },
    {
      filename: at('main/switchyard.ts'),
      code: "import { buildApp } from '../http/app.js'; import { s } from '../simulator/server.js';",
      options,
    },
    {
      filename: at('http/app.ts'),
      code: "import { x } from '../domains/orders/index.js'; import { y } from '../flows/place-order.js';",
      options,
    },
    {
      filename: at('shopify/client.ts'),
      code: "import { createAdminApiClient } from '@shopify/admin-api-client';",
      options,
    },
    { filename: at('jobs/publish.ts'), code: "import { x } from '../shopify/client.js';", options },
    // tests may reach across rooms to set up what they check
    { filename: at('domains/orders/orders.test.ts'), code: "import { x } from '../../simulator/driver.js';", options },
    // outside src/ the rule does not apply
    { filename: '/repo/test/e2e.test.ts', code: "import { x } from '../src/http/app.js';", options },
  ],
  invalid: [
    {
      filename: at('domains/inventory/inventory.service.ts'),
      code: "import { variants } from '../catalog/catalog.schema.js';",
      options,
      errors: [{ message: 'Import another domain through its index.ts only: catalog/index.js.' }],
    },
    {
      filename: at('domains/inventory/inventory.service.ts'),
      code: "import { buildApp } from '../../http/app.js';",
      options,
      errors: [
        { message: 'domains/ may not import http/ (only main/ imports http/). See ARCHITECTURE.md, "Import rules".' },
      ],
    },
    {
      filename: at('domains/orders/orders.service.ts'),
      code: "import { run } from '../../jobs/registry.js';",
      options,
      errors: [
        { message: 'domains/ may not import jobs/ (only main/ imports jobs/). See ARCHITECTURE.md, "Import rules".' },
      ],
    },
    {
      filename: at('flows/place-order.ts'),
      code: "import { inbox } from '../ingest/inbox.js';",
      options,
      errors: [
        { message: 'flows/ may not import ingest/ (only main/ imports ingest/). See ARCHITECTURE.md, "Import rules".' },
      ],
    },
    {
      filename: at('domains/orders/orders.service.ts'),
      code: "import { x } from '../inventory/inventory.repo.js';",
      options,
      errors: [{ message: 'Import another domain through its index.ts only: inventory/index.js.' }],
    },
    {
      filename: at('http/orders.routes.ts'),
      code: "import { x } from '../domains/orders/orders.repo.js';",
      options,
      errors: [{ message: 'Import another domain through its index.ts only: orders/index.js.' }],
    },
    {
      filename: at('shopify/client.ts'),
      code: "import { start } from '../simulator/server.js';",
      options,
      errors: [
        {
          message:
            'shopify/ may not import simulator/ (only main/ imports simulator/). See ARCHITECTURE.md, "Import rules".',
        },
      ],
    },
    {
      filename: at('domains/catalog/catalog.service.ts'),
      code: "import { client } from '../../shopify/client.js';",
      options,
      errors: [
        {
          message:
            'domains/ may not import shopify/ (domains/ imports only platform/, domains/). See ARCHITECTURE.md, "Import rules".',
        },
      ],
    },
    {
      filename: at('platform/db/client.ts'),
      code: "import { x } from '../../domains/orders/index.js';",
      options,
      errors: [
        {
          message:
            'platform/ may not import domains/ (platform/ imports only itself). See ARCHITECTURE.md, "Import rules".',
        },
      ],
    },
    {
      filename: at('ingest/webhooks.ts'),
      code: "import { createAdminApiClient } from '@shopify/admin-api-client';",
      options,
      errors: [{ message: 'Only src/shopify/ talks to Shopify: import @shopify/admin-api-client there.' }],
    },
    {
      filename: at('domains/orders/orders.service.ts'),
      code: "const m = await import('../../http/app.js'); export * from '../../jobs/registry.js';",
      options,
      errors: 2,
    },
  ],
});
