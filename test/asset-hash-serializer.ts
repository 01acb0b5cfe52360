import type { NewPlugin } from 'pretty-format';

/**
 * Masks 64-hex-digit hashes (asset hashes in S3 keys, `asset.<hash>` paths) in snapshots, so a snapshot
 * does not change with a checkout path, a machine or a dependency's bytes. What the templates say about
 * their assets is asserted by the fine-grained tests instead.
 */
const HASH = /[0-9a-f]{64}/;
const HASHES = new RegExp(HASH.source, 'g');

const assetHashSerializer: NewPlugin = {
  test: (value: unknown): boolean => typeof value === 'string' && HASH.test(value),
  serialize: (value: string, config, indentation, depth, refs, printer): string =>
    printer(value.replace(HASHES, '[HASH REMOVED]'), config, indentation, depth, refs),
};

// Jest require()s snapshotSerializers and uses the module itself as the plugin, so no default export.
export = assetHashSerializer;
