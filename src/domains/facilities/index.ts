export * from './facilities.schema.js';
export { listFacilities, updateFacilitySettings, ensureQueueFacilities, queueCode, type FacilityRow, type FacilitySettings } from './facilities.service.js';
