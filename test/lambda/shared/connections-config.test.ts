import {
  connectionsTableConfig,
  DEFAULT_CONNECTION_TTL_SECONDS,
} from '../../../lambda/shared/connections-config';

describe('connectionsTableConfig', () => {
  it('reads the table name and TTL', () => {
    // Act
    const config = connectionsTableConfig({ CONNECTIONS_TABLE_NAME: 'conns', CONNECTION_TTL_SECONDS: '60' });

    // Assess
    expect(config).toEqual({ tableName: 'conns', ttlSeconds: 60 });
  });

  it('outlives API Gateway’s 2-hour connection cap by default', () => {
    // Act
    const config = connectionsTableConfig({ CONNECTIONS_TABLE_NAME: 'conns' });

    // Assess
    expect(config.ttlSeconds).toBe(DEFAULT_CONNECTION_TTL_SECONDS);
    expect(DEFAULT_CONNECTION_TTL_SECONDS).toBeGreaterThan(2 * 60 * 60);
  });

  it('names the missing table variable', () => {
    // Act
    const read = (): unknown => connectionsTableConfig({});

    // Assess
    expect(read).toThrow('Missing required environment variable CONNECTIONS_TABLE_NAME');
  });
});
