import { intEnv, requireEnv } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';

/**
 * API Gateway closes every WebSocket connection after 2 hours; 2 h 15 min leaves a margin so TTL only
 * reaps rows whose connection is certainly gone (the $disconnect route normally deletes them first).
 */
export const DEFAULT_CONNECTION_TTL_SECONDS = 8100;

export interface ConnectionsTableConfig {
  tableName: string;
  ttlSeconds: number;
}

/** The three connection-table users ($connect/$disconnect, messages, broadcast) read it the same way. */
export function connectionsTableConfig(
  env: Record<string, string | undefined> = process.env,
): ConnectionsTableConfig {
  return {
    tableName: requireEnv(EnvNames.connectionsTable, env),
    ttlSeconds: intEnv(EnvNames.connectionTtlSeconds, DEFAULT_CONNECTION_TTL_SECONDS, env),
  };
}
