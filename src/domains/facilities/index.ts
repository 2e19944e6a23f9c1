// The room's tables are its own: other rooms read them through its functions (docs/TABLES.md).
export {
  FACILITY_KINDS,
  QUEUE_KINDS,
  PUBLISH_MODES,
  type FacilityKind,
  type QueueKind,
  type PublishMode,
} from './facilities.schema.js';
export {
  addFacilityIfNew,
  facilityIdsByLocation,
  listFacilities,
  updateFacilitySettings,
  ensureQueueFacilities,
  queueCode,
  type FacilityRow,
  type FacilitySettings,
} from './facilities.service.js';
export {
  createOnlineChannelGroup,
  lockOnlineChannelGroup,
  replaceGroupMembers,
  setGroupThreshold,
  type ChannelGroup,
} from './groups.repo.js';
