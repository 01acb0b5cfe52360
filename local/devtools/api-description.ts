import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { jsonResponse, type HttpResponse } from '../http-io';

/**
 * The comments and broadcast APIs' OpenAPI description (docs/openapi.yaml), served as JSON on the app port
 * for tools that read it from a URL (Swagger UI, client generators, Postman). Dev/local only: a deployed
 * stage has no such route. Read once, when the stack starts, so a document that does not parse stops the
 * start rather than a later request.
 */
export const OPENAPI_JSON_PATH = '/api/v1/openapi.json';
export const OPENAPI_YAML_FILE = path.resolve(__dirname, '..', '..', 'docs', 'openapi.yaml');

/** Answers GET and HEAD of OPENAPI_JSON_PATH; undefined for every other request. */
export type ApiDescriptionRoute = (method: string, urlPath: string) => HttpResponse | undefined;

export function createApiDescriptionRoute(file = OPENAPI_YAML_FILE): ApiDescriptionRoute {
  const document = parse(readFileSync(file, 'utf8')) as unknown;
  if (typeof document !== 'object' || document === null || !('openapi' in document)) {
    throw new Error(`${file} is not an OpenAPI document`);
  }
  const { servers } = document as { servers?: unknown[] };
  // This stack first: a relative server URL is the origin the document was fetched from.
  const served = {
    ...document,
    servers: [{ url: '/', description: 'This local stack (the app port)' }, ...(servers ?? [])],
  };
  const response = jsonResponse(200, served, { 'cache-control': 'no-store' });
  return (method, urlPath) =>
    urlPath === OPENAPI_JSON_PATH && (method === 'GET' || method === 'HEAD') ? response : undefined;
}
