export * from './facilities.schema.js';
export { addFacilityIfNew, facilityIdsByLocation, listFacilities, updateFacilitySettings, ensureQueueFacilities, queueCode, type FacilityRow, type FacilitySettings } from './facilities.service.js';
export { createOnlineChannelGroup, lockOnlineChannelGroup, replaceGroupMembers, setGroupThreshold, type ChannelGroup } from './groups.repo.js';
