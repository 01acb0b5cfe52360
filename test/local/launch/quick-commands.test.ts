import { quickCommands, shellWord } from '../../../local/launch/quick-commands';

const RUNNING = {
  appUrl: 'http://localhost:4800',
  webSocketUrl: 'ws://localhost:4801/dev',
  outputsFile: '/work/local-outputs.json',
  defaultOutputsFile: '/work/local-outputs.json',
};

describe('quickCommands', () => {
  it("uses the running stack's own URLs", () => {
    // Act
    const text = quickCommands(RUNNING);

    // Assess
    expect(text).toContain('curl -sS --fail-with-body -X POST http://localhost:4800/api/v1/posts ');
    expect(text).toContain('npx -y wscat -c "ws://localhost:4801/dev?token=$TOKEN"');
    expect(text).toContain('http://localhost:4800/api/v1/posts/$POST_ID/comments');
    expect(text).not.toContain('localhost:3000');
  });

  it('chains the steps so that the first one to fail stops the rest', () => {
    // Act
    const lines = quickCommands(RUNNING).split('\n');

    // Assess
    const token = lines.findIndex((line) => line.includes('TOKEN=$(npm run -s token -- alice)'));
    const wscat = lines.findIndex((line) => line.includes('wscat'));
    for (const line of lines.slice(token, wscat)) expect(line).toMatch(/(&&|\\|\|)$|^ {4}/);
  });

  it('names the outputs file for npm run token only when it is not the default', () => {
    // Act
    const defaults = quickCommands(RUNNING);
    const custom = quickCommands({ ...RUNNING, outputsFile: '/tmp/my stack.json' });

    // Assess
    expect(defaults).not.toContain('LOCAL_OUTPUTS_FILE');
    expect(custom).toContain("TOKEN=$(LOCAL_OUTPUTS_FILE='/tmp/my stack.json' npm run -s token -- alice)");
    expect(custom).toContain("TOKEN=$(LOCAL_OUTPUTS_FILE='/tmp/my stack.json' npm run -s token -- bob)");
  });
});

describe('shellWord', () => {
  it.each([
    ['/tmp/outputs.json', '/tmp/outputs.json'],
    ['/tmp/my stack.json', "'/tmp/my stack.json'"],
    ["it's", "'it'\\''s'"],
  ])('quotes %s as %s', (word, quoted) => {
    expect(shellWord(word)).toBe(quoted);
  });
});
