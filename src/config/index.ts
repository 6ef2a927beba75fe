export { loadConfig, ConfigError } from './config.js';
export type { Config, ConfigInput } from './config.js';
