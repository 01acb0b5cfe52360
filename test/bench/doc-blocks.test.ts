import { spliceBlocks } from '../../bench/doc-blocks';

describe('spliceBlocks', () => {
  it('replaces what is between a block’s markers and leaves everything else alone', () => {
    // Prepare
    const document =
      'intro\n<!-- simulation:a -->\nold\n<!-- /simulation:a -->\nmiddle\n<!-- simulation:b -->\n<!-- /simulation:b -->\nend\n';

    // Act
    const out = spliceBlocks(document, 'simulation', { a: 'new A', b: '| t |\n', missing: 'ignored' });

    // Assess
    expect(out).toBe(
      'intro\n<!-- simulation:a -->\n\nnew A\n\n<!-- /simulation:a -->\nmiddle\n<!-- simulation:b -->\n\n| t |\n\n<!-- /simulation:b -->\nend\n',
    );
    expect(spliceBlocks(out, 'simulation', { a: 'new A', b: '| t |' })).toBe(out);
  });

  it('only touches the blocks of its own prefix', () => {
    // Prepare
    const document = '<!-- bench:latest -->\nold\n<!-- /bench:latest -->\n';

    // Act
    const other = spliceBlocks(document, 'simulation', { latest: 'new' });
    const own = spliceBlocks(document, 'bench', { latest: 'new' });

    // Assess
    expect(other).toBe(document);
    expect(own).toBe('<!-- bench:latest -->\n\nnew\n\n<!-- /bench:latest -->\n');
  });
});
