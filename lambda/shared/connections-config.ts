import { intEnv, requireEnv, type Env } from '../../contracts/env-reader';
import { EnvNames } from '../../contracts/env-names';

export interface ConnectionsTableConfig {
  tableName: string;
  /** Seconds a connection row (and its subscriptions) lives after $connect: the stage's connectionTtlSeconds. */
  ttlSeconds: number;
}

/**
 * How the functions that write connection rows ($connect/$disconnect, messages) read the table. The
 * broadcast and the fan-out worker only read and delete, so they need the table name alone.
 */
export function connectionsTableConfig(env: Env = process.env): ConnectionsTableConfig {
  return {
    tableName: requireEnv(EnvNames.connectionsTable, env),
    ttlSeconds: intEnv(EnvNames.connectionTtlSeconds, env),
  };
}
