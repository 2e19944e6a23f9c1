export * from './orders.schema.js';
