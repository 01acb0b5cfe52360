import { connectionsTableConfig } from '../../../lambda/shared/connections-config';

describe('connectionsTableConfig', () => {
  it('reads the table name and TTL', () => {
    // Act
    const config = connectionsTableConfig({ CONNECTIONS_TABLE_NAME: 'conns', CONNECTION_TTL_SECONDS: '60' });

    // Assess
    expect(config).toEqual({ tableName: 'conns', ttlSeconds: 60 });
  });

  it('names the missing TTL variable: the stage config sets it, so there is no default to fall back on', () => {
    // Act
    const read = (): unknown => connectionsTableConfig({ CONNECTIONS_TABLE_NAME: 'conns' });

    // Assess
    expect(read).toThrow('Missing required environment variable CONNECTION_TTL_SECONDS');
  });

  it('names the missing table variable', () => {
    // Act
    const read = (): unknown => connectionsTableConfig({});

    // Assess
    expect(read).toThrow('Missing required environment variable CONNECTIONS_TABLE_NAME');
  });
});
