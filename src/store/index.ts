export type { Queryable, QueryResult, Store, StoreKind, ListenHandlers } from './types.js';
export { CHANGES_CHANNEL } from './types.js';
export { openStore } from './open.js';
export type { StoreLocation } from './open.js';
export { migrate, schemaVersion, MIGRATIONS } from './migrations.js';
export { notifyChange } from './notify.js';
export type { ChangeNotice, RevocationKind } from './notify.js';
export { isStorableText, idProblem, unstorablePath, MAX_ID_LENGTH } from './text.js';
