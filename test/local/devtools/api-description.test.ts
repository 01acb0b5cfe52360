import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { parse } from 'yaml';
import {
  OPENAPI_JSON_PATH,
  OPENAPI_YAML_FILE,
  createApiDescriptionRoute,
} from '../../../local/devtools/api-description';

/** The local stack's /api/v1/openapi.json: docs/openapi.yaml as JSON, with this stack as its first server. */
const source = parse(readFileSync(OPENAPI_YAML_FILE, 'utf8')) as { servers: unknown[]; paths: unknown };

it('answers GET with the document as JSON, this stack first among its servers', () => {
  const response = createApiDescriptionRoute()('GET', OPENAPI_JSON_PATH);
  expect(response).toMatchObject({
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'no-store' },
  });
  const served = JSON.parse(String(response?.body)) as typeof source;
  expect(served.paths).toEqual(source.paths);
  expect(served.servers).toEqual([{ url: '/', description: expect.any(String) }, ...source.servers]);
});

it('answers HEAD too, and nothing else', () => {
  const route = createApiDescriptionRoute();
  expect(route('HEAD', OPENAPI_JSON_PATH)?.statusCode).toBe(200);
  expect(route('POST', OPENAPI_JSON_PATH)).toBeUndefined();
  expect(route('GET', '/api/v1/openapi.yaml')).toBeUndefined();
  expect(route('GET', '/api/v1/posts')).toBeUndefined();
});

it('refuses to start on a file that is not an OpenAPI document', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'api-description-'));
  try {
    const file = path.join(dir, 'openapi.yaml');
    writeFileSync(file, 'title: not an API\n');
    expect(() => createApiDescriptionRoute(file)).toThrow(/not an OpenAPI document/);
    writeFileSync(file, 'openapi: [unclosed\n');
    expect(() => createApiDescriptionRoute(file)).toThrow();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
