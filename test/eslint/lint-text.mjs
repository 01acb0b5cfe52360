// Lints in-memory modules with the project's ESLint config, in a process of its own: ESLint loads its
// flat config with a dynamic import(), which Jest's module sandbox refuses. Reads
// [{file, source}, …] as JSON on stdin and writes, per case, the messages of the given rule.
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const [ruleId] = process.argv.slice(2);
let input = '';
for await (const chunk of process.stdin) input += chunk;
const eslint = new ESLint({ cwd: repoRoot });
const results = [];
for (const { file, source } of JSON.parse(input)) {
  const [result] = await eslint.lintText(source, { filePath: path.join(repoRoot, file) });
  results.push((result?.messages ?? []).filter((m) => m.ruleId === ruleId).map((m) => m.message));
}
process.stdout.write(JSON.stringify(results));
