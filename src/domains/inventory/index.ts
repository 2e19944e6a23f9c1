export * from './inventory.schema.js';
