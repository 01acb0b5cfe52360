import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The import rules between the repository's layers, as an ESLint rule so that `npm run lint` fails on a
 * violation. Paths are judged after resolving each relative import against the importing file, so
 * `../../lambda/x` and `../lambda/x` are the same import wherever they are written.
 *
 * - contracts/ is import-free: it imports nothing but other contracts (no packages, no Node built-ins), so
 *   every layer, the browser SDK included, can load it.
 * - lib/ (CDK), client/ (the SDK) and bench/ never import lambda/: they depend on the contracts, not on
 *   function code.
 * - client/ imports only client/ and contracts/: it is published as a package of its own.
 * - signing/ (SigV4 for execute-api) imports only contracts/: the benchmark and the e2e helpers sign
 *   requests with it without loading function code or the local stack.
 * - simulation/ may import lambda/: it runs the real fan-out code against modelled AWS services. It never
 *   imports test/, and only test/ imports simulation/ (no function, stack or benchmark depends on it).
 * - Nothing outside test/ imports test/.
 * - A function folder under lambda/ never imports another function's folder; shared runtime code lives in
 *   lambda/shared/ and lambda/fan-out/, which import no function folder either.
 */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Folders under lambda/ that hold code shared by several functions, rather than one function's code. */
export const SHARED_LAMBDA_FOLDERS = new Set(['shared', 'fan-out']);

const NO_LAMBDA = new Set(['lib', 'client', 'bench']);

function segments(absolute) {
  const relative = path.relative(REPO_ROOT, absolute);
  if (relative.startsWith('..') || path.isAbsolute(relative)) return undefined;
  return relative.split(path.sep);
}

/** Why importing `target` from `file` breaks a layer rule, or undefined when it does not. */
export function violation(file, specifier) {
  const from = segments(path.resolve(file));
  if (!from || from.length < 2) return undefined;
  const [layer] = from;
  const relative = specifier.startsWith('./') || specifier.startsWith('../');
  if (!relative) {
    return layer === 'contracts'
      ? `contracts/ is import-free: "${specifier}" is a package or built-in`
      : undefined;
  }
  const to = segments(path.resolve(path.dirname(path.resolve(file)), specifier));
  if (!to) return `"${specifier}" leaves the repository`;
  const [targetLayer] = to;
  if (layer === 'contracts' && targetLayer !== 'contracts') {
    return `contracts/ imports nothing outside itself, not ${targetLayer}/`;
  }
  if (layer === 'signing' && targetLayer !== 'signing' && targetLayer !== 'contracts') {
    return `signing/ imports only contracts/, not ${targetLayer}/: the benchmark and the tests sign without loading more`;
  }
  if (NO_LAMBDA.has(layer) && targetLayer === 'lambda') {
    return `${layer}/ never imports lambda/: import the shared contract from contracts/ instead`;
  }
  if (layer === 'client' && targetLayer !== 'client' && targetLayer !== 'contracts') {
    return `client/ is a package of its own: it imports only client/ and contracts/, not ${targetLayer}/`;
  }
  if (layer === 'simulation' && targetLayer === 'test') {
    return 'simulation/ never imports test/: it runs the real code from lambda/, not test doubles';
  }
  if (layer !== 'test' && targetLayer === 'test') {
    return `only test/ imports test/ (${layer}/ does here)`;
  }
  if (layer !== 'simulation' && layer !== 'test' && targetLayer === 'simulation') {
    return `only test/ imports simulation/ (${layer}/ does here): nothing deployed or measured depends on the model`;
  }
  if (layer === 'lambda' && targetLayer === 'lambda' && from.length > 2 && to.length > 2) {
    const [, fromFolder] = from;
    const [, toFolder] = to;
    if (fromFolder !== toFolder && !SHARED_LAMBDA_FOLDERS.has(toFolder)) {
      return `lambda/${fromFolder}/ imports the function folder lambda/${toFolder}/: move what both need to lambda/shared/ or lambda/fan-out/`;
    }
  }
  return undefined;
}

const rule = {
  meta: {
    type: 'problem',
    docs: { description: 'Keeps imports within the layer boundaries of this repository' },
    schema: [],
    messages: { boundary: '{{reason}}' },
  },
  create(context) {
    const filename = context.filename;
    const check = (node, source) => {
      if (!source || typeof source.value !== 'string') return;
      const reason = violation(filename, source.value);
      if (reason) context.report({ node, messageId: 'boundary', data: { reason } });
    };
    return {
      ImportDeclaration: (node) => check(node, node.source),
      ExportNamedDeclaration: (node) => check(node, node.source),
      ExportAllDeclaration: (node) => check(node, node.source),
      ImportExpression: (node) => check(node, node.source),
      TSImportEqualsDeclaration: (node) =>
        node.moduleReference.type === 'TSExternalModuleReference' &&
        check(node, node.moduleReference.expression),
      CallExpression: (node) => {
        const [first] = node.arguments;
        const isRequire = node.callee.type === 'Identifier' && node.callee.name === 'require';
        const isJestMock =
          node.callee.type === 'MemberExpression' &&
          node.callee.object.type === 'Identifier' &&
          node.callee.object.name === 'jest';
        if ((isRequire || isJestMock) && first?.type === 'Literal') check(node, first);
      },
    };
  },
};

export default { rules: { 'layer-boundaries': rule } };
