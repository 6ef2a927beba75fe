export { createChangeFeed } from './change-feed.js';
export type { ChangeFeed } from './change-feed.js';
