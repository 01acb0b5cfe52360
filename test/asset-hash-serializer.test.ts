import assetHashSerializer from './asset-hash-serializer';

const hash = 'b'.repeat(31) + '0123456789abcdef'.repeat(2) + 'c';

describe('assetHashSerializer', () => {
  it('claims strings that contain a 64-hex-digit hash, and only those', () => {
    expect(assetHashSerializer.test(`asset.${hash}`)).toBe(true);
    expect(assetHashSerializer.test(hash.slice(1))).toBe(false);
    expect(assetHashSerializer.test(hash.toUpperCase())).toBe(false);
    expect(assetHashSerializer.test(42)).toBe(false);
  });

  it('masks every hash in a snapshot and keeps the rest of the string', () => {
    expect({
      S3Key: `${hash}.zip`,
      path: `asset.${hash}`,
      both: `${hash}/${hash}`,
      plain: 'index.handler',
    }).toMatchSnapshot();
  });
});
