import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  DiagnosticSeverity,
  Parser,
  type AsyncAPIDocumentInterface,
  type Diagnostic,
} from '@asyncapi/parser';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import Ajv2020 from 'ajv/dist/2020';
import addFormats from 'ajv-formats';

/**
 * The API descriptions (docs/openapi.yaml, docs/asyncapi.yaml) as their own parsers read them, and
 * validators for real answers and events built from the schemas those parsers hand back. The unit tests
 * (test/docs) check the documents against the contracts; the e2e suite checks what the stack sends
 * against the documents (test/e2e/local-only/api-schemas.test.ts).
 */
const DOCS_DIR = path.resolve(__dirname, '..', '..', 'docs');
export const OPENAPI_FILE = path.join(DOCS_DIR, 'openapi.yaml');
export const ASYNCAPI_FILE = path.join(DOCS_DIR, 'asyncapi.yaml');

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type JsonSchema = Record<string, unknown>;

export interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: JsonSchema;
}

export interface OpenApiResponse {
  description: string;
  headers?: Record<string, { required?: boolean; schema?: JsonSchema }>;
  content?: Record<string, { schema?: JsonSchema }>;
}

export interface OpenApiOperation {
  operationId?: string;
  security?: Record<string, string[]>[];
  parameters?: OpenApiParameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema?: JsonSchema }> };
  responses: Record<string, OpenApiResponse>;
}

export type OpenApiPathItem = Partial<Record<HttpMethod, OpenApiOperation>> & {
  servers?: { url: string; description?: string }[];
};

/** The parts of an OpenAPI 3.1 document these tests read, after dereferencing. */
export interface OpenApiDocument {
  openapi: string;
  servers?: { url: string; description?: string }[];
  paths: Record<string, OpenApiPathItem>;
  components: {
    schemas: Record<string, JsonSchema>;
    securitySchemes: Record<string, Record<string, unknown>>;
  };
}

/** One operation with where it lives: `routeKey` is spelled as API Gateway spells route keys. */
export interface LocatedOperation {
  routeKey: string;
  method: HttpMethod;
  path: string;
  pathItem: OpenApiPathItem;
  operation: OpenApiOperation;
}

/**
 * An OpenAPI document (docs/openapi.yaml unless told), validated against the OpenAPI 3.1 schema by
 * swagger-parser and dereferenced: every `$ref` replaced by what it points to. Rejects with swagger-parser's
 * message when the document is not valid. swagger-parser runs in a Node process of its own
 * (openapi-validate.mjs says why).
 */
export async function loadOpenApi(file = OPENAPI_FILE): Promise<OpenApiDocument> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [path.join(__dirname, 'openapi-validate.mjs'), file],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  const result = JSON.parse(stdout) as { ok: true; api: OpenApiDocument } | { ok: false; message: string };
  if (!result.ok) throw new Error(`${path.basename(file)} is not valid OpenAPI: ${result.message}`);
  return result.api;
}

export function operationsOf(document: OpenApiDocument): LocatedOperation[] {
  return Object.entries(document.paths).flatMap(([route, pathItem]) =>
    HTTP_METHODS.flatMap((method) => {
      const operation = pathItem[method];
      return operation
        ? [{ routeKey: `${method.toUpperCase()} ${route}`, method, path: route, pathItem, operation }]
        : [];
    }),
  );
}

export interface AsyncApiLoad {
  document: AsyncAPIDocumentInterface | undefined;
  diagnostics: Diagnostic[];
}

/** docs/asyncapi.yaml, parsed and validated (AsyncAPI 3.0 schema and Spectral rules) by @asyncapi/parser. */
export async function loadAsyncApi(): Promise<AsyncApiLoad> {
  const { document, diagnostics } = await new Parser().parse(readFileSync(ASYNCAPI_FILE, 'utf8'), {
    source: ASYNCAPI_FILE,
  });
  return { document, diagnostics };
}

/** Errors and warnings: what a valid document has none of (information and hints are let through). */
export function problemsOf(diagnostics: readonly Diagnostic[]): string[] {
  return diagnostics
    .filter(
      (diagnostic) =>
        diagnostic.severity === DiagnosticSeverity.Error ||
        diagnostic.severity === DiagnosticSeverity.Warning,
    )
    .map((diagnostic) => `${diagnostic.code}: ${diagnostic.message} at ${diagnostic.path.join('.')}`);
}

function describeErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map(
    (error) =>
      `${error.instancePath || '(root)'} ${error.message ?? error.keyword} ${JSON.stringify(error.params)}`,
  );
}

/** The parser's own bookkeeping (`x-parser-schema-id`, …), which is no JSON Schema keyword. */
function withoutParserKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutParserKeys);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !key.startsWith('x-parser-'))
      .map(([key, inner]) => [key, withoutParserKeys(inner)]),
  );
}

/** An HTTP answer as a test saw it. `body` is the parsed JSON, or undefined when there was none. */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

/**
 * Checks HTTP answers against docs/openapi.yaml: the status must be one the operation declares, the body
 * must match that response's schema (or be absent where it declares none), and its required headers must
 * be there. OpenAPI 3.1 schemas are JSON Schema 2020-12.
 */
export class OpenApiAnswers {
  private readonly ajv = addFormats(new Ajv2020({ allErrors: true, strict: true }));
  private readonly validators = new Map<JsonSchema, ValidateFunction>();

  constructor(readonly document: OpenApiDocument) {}

  static async load(): Promise<OpenApiAnswers> {
    return new OpenApiAnswers(await loadOpenApi());
  }

  operation(operationId: string): LocatedOperation {
    const found = operationsOf(this.document).find((entry) => entry.operation.operationId === operationId);
    if (!found) throw new Error(`docs/openapi.yaml has no operation "${operationId}"`);
    return found;
  }

  /** What is wrong with the answer, as readable lines; empty when it is as documented. */
  problems(operationId: string, answer: HttpAnswer): string[] {
    const { operation } = this.operation(operationId);
    const response = operation.responses[String(answer.status)];
    if (!response) {
      return [
        `${operationId} does not document status ${answer.status} (documents ${Object.keys(operation.responses).join(', ')}); body ${JSON.stringify(answer.body)}`,
      ];
    }
    const problems: string[] = [];
    for (const [name, header] of Object.entries(response.headers ?? {})) {
      if (header.required && !answer.headers.has(name)) problems.push(`header ${name} is missing`);
    }
    const schema = response.content?.['application/json']?.schema;
    if (!schema) {
      if (answer.body !== undefined) problems.push(`status ${answer.status} documents no body, got one`);
      return problems;
    }
    if (!(answer.headers.get('content-type') ?? '').startsWith('application/json')) {
      problems.push(`content-type is ${answer.headers.get('content-type')}, not application/json`);
    }
    const validate = this.validatorFor(schema);
    if (!validate(answer.body)) {
      problems.push(...describeErrors(validate.errors).map((line) => `body ${line}`));
    }
    return problems;
  }

  private validatorFor(schema: JsonSchema): ValidateFunction {
    let validate = this.validators.get(schema);
    if (!validate) {
      validate = this.ajv.compile(schema);
      this.validators.set(schema, validate);
    }
    return validate;
  }
}

/**
 * Checks WebSocket messages against docs/asyncapi.yaml: the message named by the frame's `type` (a server
 * event) or `action` (a client action), and its payload schema, as @asyncapi/parser resolved it. AsyncAPI
 * schemas are a superset of JSON Schema draft 07.
 */
export class AsyncApiMessages {
  private readonly ajv = addFormats(new Ajv({ allErrors: true, strict: true }));
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(readonly document: AsyncAPIDocumentInterface) {}

  static async load(): Promise<AsyncApiMessages> {
    const { document, diagnostics } = await loadAsyncApi();
    if (!document)
      throw new Error(`docs/asyncapi.yaml does not parse: ${problemsOf(diagnostics).join('; ')}`);
    return new AsyncApiMessages(document);
  }

  /** Every message's `name`: the wire name, an action or an event type. */
  names(): string[] {
    return this.document
      .messages()
      .all()
      .map((message) => message.name() ?? '');
  }

  payloadSchema(name: string): JsonSchema {
    const message = this.document
      .messages()
      .all()
      .find((candidate) => candidate.name() === name);
    const payload = message?.payload();
    if (!payload) throw new Error(`docs/asyncapi.yaml has no message "${name}" with a payload`);
    return withoutParserKeys(payload.json()) as JsonSchema;
  }

  /** What is wrong with a frame (parsed JSON), as readable lines; empty when it is as documented. */
  problems(frame: unknown): string[] {
    const record = (typeof frame === 'object' && frame !== null ? frame : {}) as Record<string, unknown>;
    const name = typeof record.type === 'string' ? record.type : record.action;
    if (typeof name !== 'string')
      return [`neither "type" nor "action" names a message: ${JSON.stringify(frame)}`];
    if (!this.names().includes(name)) return [`docs/asyncapi.yaml has no message "${name}"`];
    let validate = this.validators.get(name);
    if (!validate) {
      validate = this.ajv.compile(this.payloadSchema(name));
      this.validators.set(name, validate);
    }
    return validate(frame) ? [] : describeErrors(validate.errors).map((line) => `${name}: ${line}`);
  }
}
