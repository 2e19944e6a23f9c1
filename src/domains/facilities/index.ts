export * from './facilities.schema.js';
