export * from './catalog.schema.js';
