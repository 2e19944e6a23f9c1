export * from './facilities.schema.js';
export { listFacilities, updateFacilitySettings, type FacilityRow, type FacilitySettings } from './facilities.service.js';
