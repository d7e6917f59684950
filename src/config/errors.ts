export { ConfigError } from '../core/errors';
