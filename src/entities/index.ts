/** Stored Cedar entities (DIR/entities.json): the apply section and the per-instance cache. */
export { entitiesSection, ENTITIES_DOC } from './entities-section.js';
export type { EntitiesSectionDeps } from './entities-section.js';
export { createEntityCache } from './entity-cache.js';
export type { EntityCache } from './entity-cache.js';
export { parseEntities, entitiesHash, MAX_ENTITIES } from './entity-json.js';
