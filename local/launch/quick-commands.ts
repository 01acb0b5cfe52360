/**
 * The walkthrough of the README (a token, a post, a subscriber, a comment), written for the stack that is
 * running: its own URLs, and its outputs file when it is not the default one, since `npm run token` finds
 * the stack through that file. `npm start` prints it once the stack is ready, ready to copy.
 */
export interface QuickCommandsInput {
  /** The comments API's base URL, e.g. `http://localhost:3000`. */
  appUrl: string;
  /** The WebSocket API's URL with its stage, e.g. `ws://localhost:3001/dev`. */
  webSocketUrl: string;
  outputsFile: string;
  defaultOutputsFile: string;
}

/** A word the shell takes as it is: quoted when it holds anything but the usual path characters. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Prints `.id` of the JSON on stdin, or the whole answer on stderr and exits 1 when it has none. */
const idOfAnswer = `node -pe 'const b = JSON.parse(require("fs").readFileSync(0)); b.id ?? (console.error(b), process.exit(1))'`;

export function quickCommands(input: QuickCommandsInput): string {
  const { appUrl, webSocketUrl } = input;
  const outputs =
    input.outputsFile === input.defaultOutputsFile
      ? ''
      : `LOCAL_OUTPUTS_FILE=${shellWord(input.outputsFile)} `;
  const json = `-H 'content-type: application/json'`;
  return [
    'Try it: in another terminal, in this project (each step runs only if the one before it worked):',
    '',
    `  TOKEN=$(${outputs}npm run -s token -- alice) &&`,
    `  POST_ID=$(curl -sS --fail-with-body -X POST ${appUrl}/api/v1/posts \\`,
    `      -H "authorization: Bearer $TOKEN" ${json} -d '{"title":"Hello"}' |`,
    `    ${idOfAnswer}) &&`,
    `  echo "POST_ID=$POST_ID; once connected, send {\\"action\\":\\"subscribe\\",\\"postId\\":\\"$POST_ID\\"}" &&`,
    `  npx -y wscat -c "${webSocketUrl}?token=$TOKEN"`,
    '',
    'then, in a third terminal, post a comment and watch it arrive in wscat:',
    '',
    '  POST_ID=<the POST_ID printed above>',
    `  TOKEN=$(${outputs}npm run -s token -- bob) &&`,
    `  curl -sS --fail-with-body -X POST ${appUrl}/api/v1/posts/$POST_ID/comments \\`,
    `    -H "authorization: Bearer $TOKEN" ${json} -d '{"content":"First!"}'`,
  ].join('\n');
}
