import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import { isRecord } from '../../contracts/json';
import type { LocalLambda } from './lambda-runtime';
import { claimsForEvent, readIdentitySource, type RouteAuthorizers } from '../auth/authorizers';
import type { LocalApi, LocalRoute, RouteAuthorization } from '../cloudformation/local-model';
import {
  BAD_REQUEST,
  decodeComponent,
  hasMalformedEncoding,
  jsonResponse,
  type HttpRequest,
  type HttpResponse,
} from '../http-io';

/**
 * An HTTP API (API Gateway v2) in front of local functions: matches the request against the API's route
 * keys (`METHOD /path/{param}`, `ANY`, greedy `{proxy+}`, `$default`), builds a payload-format-2.0 event,
 * invokes the route's function and maps its result back as API Gateway does.
 */

interface CompiledRoute {
  routeKey: string;
  method: string;
  pattern: RegExp;
  paramNames: string[];
  functionKey: string;
  authorization: RouteAuthorization;
}

function compileRoute({ routeKey, functionKey, authorization }: LocalRoute): CompiledRoute {
  if (routeKey === '$default') {
    return { routeKey, method: 'ANY', pattern: /^.*$/, paramNames: [], functionKey, authorization };
  }
  const [method = 'ANY', routePath = '/'] = routeKey.split(' ');
  const paramNames: string[] = [];
  const source = routePath
    .split('/')
    .map((segment) => {
      const greedy = /^\{(.+)\+\}$/.exec(segment);
      if (greedy?.[1]) {
        paramNames.push(greedy[1]);
        return '(.+)';
      }
      const param = /^\{(.+)\}$/.exec(segment);
      if (param?.[1]) {
        paramNames.push(param[1]);
        return '([^/]+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { routeKey, method, pattern: new RegExp(`^${source}/?$`), paramNames, functionKey, authorization };
}

/** API Gateway's HTTP API payload quota: a larger request body is answered 413 before any route runs. */
export const MAX_HTTP_API_PAYLOAD_BYTES = 10 * 1024 * 1024;

export interface HttpApiOptions {
  api: LocalApi;
  lambdas: Map<string, LocalLambda>;
  /** Host name API Gateway would report in requestContext.domainName. */
  domainName: string;
  accountId: string;
  authorizers: RouteAuthorizers;
}

/**
 * Content types whose body API Gateway passes to the function as a string. Payload format 2.0 documents
 * only "if the content type of the request is binary, the body is base64-encoded"; API Gateway defines a
 * text payload as UTF-8 and "a binary payload is anything other than a text payload". So a body of a text
 * type that is not valid UTF-8 is passed as binary: base64, byte for byte, with isBase64Encoded true, and the
 * function can tell it is not text. (Decoding it here would put U+FFFD in place of the bad bytes, which no
 * function could tell from what the client sent.)
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html
 */
const TEXT_CONTENT = /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded))/i;

export class LocalHttpApi {
  private readonly routes: CompiledRoute[];
  private readonly defaultRoute: CompiledRoute | undefined;

  constructor(private readonly options: HttpApiOptions) {
    const compiled = options.api.routes.map(compileRoute);
    this.defaultRoute = compiled.find((route) => route.routeKey === '$default');
    // API Gateway prefers the most specific route: fewer parameters, then longer literal paths.
    this.routes = compiled
      .filter((route) => route.routeKey !== '$default')
      .sort((a, b) => a.paramNames.length - b.paramNames.length || b.routeKey.length - a.routeKey.length);
  }

  get api(): LocalApi {
    return this.options.api;
  }

  /** Whether a request would reach a route (CORS preflights count when CORS is configured). */
  matches(method: string, path: string): boolean {
    if (method === 'OPTIONS' && this.options.api.cors) return true;
    return this.match(method, path) !== undefined;
  }

  private match(
    method: string,
    path: string,
  ): { route: CompiledRoute; params: Record<string, string> } | undefined {
    for (const route of this.routes) {
      if (route.method !== 'ANY' && route.method !== method) continue;
      const found = route.pattern.exec(path);
      if (!found) continue;
      const params: Record<string, string> = {};
      route.paramNames.forEach((name, index) => {
        const raw = found[index + 1] ?? '';
        // handle() has refused malformed encoding, so the raw value is only a fallback for the types.
        params[name] = decodeComponent(raw) ?? raw;
      });
      return { route, params };
    }
    return this.defaultRoute ? { route: this.defaultRoute, params: {} } : undefined;
  }

  private corsHeaders(request: HttpRequest): Record<string, string> {
    const cors = this.options.api.cors;
    const origin = request.headers.origin;
    if (!cors || !origin) return {};
    const allowed = cors.AllowOrigins ?? [];
    if (!allowed.includes('*') && !allowed.includes(origin)) return {};
    const headers: Record<string, string> = {
      'access-control-allow-origin': allowed.includes('*') ? '*' : origin,
    };
    if (cors.ExposeHeaders?.length) headers['access-control-expose-headers'] = cors.ExposeHeaders.join(',');
    if (cors.AllowCredentials) headers['access-control-allow-credentials'] = 'true';
    return headers;
  }

  async handle(request: HttpRequest): Promise<HttpResponse> {
    // Before any route or authorizer: a path parameter or a query value that cannot be decoded is a 400.
    if (hasMalformedEncoding(request.rawPath, request.rawQueryString)) {
      return jsonResponse(400, BAD_REQUEST, this.corsHeaders(request));
    }
    const cors = this.options.api.cors;
    if (cors && request.method === 'OPTIONS' && request.headers['access-control-request-method']) {
      return {
        statusCode: 204,
        headers: {
          ...this.corsHeaders(request),
          'access-control-allow-methods': (cors.AllowMethods ?? ['*']).join(','),
          'access-control-allow-headers': (cors.AllowHeaders ?? ['*']).join(','),
          ...(cors.MaxAge !== undefined ? { 'access-control-max-age': String(cors.MaxAge) } : {}),
        },
        body: Buffer.alloc(0),
      };
    }
    const matched = this.match(request.method, request.path);
    if (!matched) {
      return jsonResponse(404, { message: 'Not Found' }, this.corsHeaders(request));
    }
    const lambda = this.options.lambdas.get(matched.route.functionKey);
    if (!lambda) return jsonResponse(500, { message: 'Internal Server Error' }, {});

    const authorized = await this.authorize(matched.route.authorization, request);
    if ('denied' in authorized) {
      return {
        ...authorized.denied,
        headers: { ...authorized.denied.headers, ...this.corsHeaders(request) },
      };
    }
    const event = this.buildEvent(request, matched.route.routeKey, matched.params, authorized.context);
    let result: unknown;
    try {
      result = await lambda.invoke(event);
    } catch (error) {
      // A function that ran and failed (an error, a timeout, a crashed runtime) is a failed integration:
      // API Gateway answers 502 (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).
      console.error(`[local] ${matched.route.functionKey} failed: ${(error as Error).message}`);
      return jsonResponse(502, { message: 'Internal Server Error' }, this.corsHeaders(request));
    }
    const response = toHttpResponse(result);
    return { ...response, headers: { ...response.headers, ...this.corsHeaders(request) } };
  }

  /** API Gateway's answers: 401 for a missing or invalid JWT, 403 for a failed IAM signature. */
  private async authorize(
    authorization: RouteAuthorization,
    request: HttpRequest,
  ): Promise<{ context?: Record<string, unknown> } | { denied: HttpResponse }> {
    switch (authorization.type) {
      case 'NONE':
        return {};
      case 'JWT': {
        const source = authorization.identitySource[0] ?? '$request.header.Authorization';
        const raw = readIdentitySource(source, { headers: request.headers, query: {} });
        const token = raw?.replace(/^Bearer\s+/i, '');
        if (!token) return { denied: jsonResponse(401, { message: 'Unauthorized' }, {}) };
        try {
          const payload = await this.options.authorizers.verifyJwt(
            token,
            authorization.issuer,
            authorization.audience,
            authorization.scopes,
          );
          return { context: { jwt: { claims: claimsForEvent(payload), scopes: null } } };
        } catch {
          return { denied: jsonResponse(401, { message: 'Unauthorized' }, {}) };
        }
      }
      case 'AWS_IAM': {
        const verified = await this.options.authorizers.verifyIam({
          method: request.method,
          host: request.headers.host ?? this.options.domainName,
          path: request.rawPath,
          query: new URLSearchParams(request.rawQueryString),
          headers: request.headers,
          body: request.body,
        });
        if (!verified.ok) return { denied: jsonResponse(403, { message: 'Forbidden' }, {}) };
        return {
          context: {
            iam: {
              accessKey: verified.accessKeyId,
              accountId: this.options.accountId,
              callerId: verified.accessKeyId,
              userArn: `arn:aws:iam::${this.options.accountId}:user/local`,
              userId: verified.accessKeyId,
            },
          },
        };
      }
      case 'CUSTOM':
        // HTTP APIs in this app use JWT and IAM only; Lambda authorizers are emulated for WebSocket $connect.
        return {
          denied: jsonResponse(500, { message: 'Lambda authorizers on HTTP APIs are not emulated' }, {}),
        };
    }
  }

  private buildEvent(
    request: HttpRequest,
    routeKey: string,
    params: Record<string, string>,
    authorizer?: Record<string, unknown>,
  ): Record<string, unknown> {
    const now = new Date();
    const contentType = request.headers['content-type'] ?? '';
    const isText = request.body.length === 0 || (TEXT_CONTENT.test(contentType) && isUtf8(request.body));
    // A Map, so that a parameter named `__proto__` or `constructor` is a parameter like any other.
    const query = new Map<string, string>();
    for (const [key, value] of new URLSearchParams(request.rawQueryString)) {
      const previous = query.get(key);
      query.set(key, previous === undefined ? value : `${previous},${value}`);
    }
    const queryStringParameters = Object.fromEntries(query);
    const cookies = request.headers.cookie?.split(';').map((c) => c.trim());
    const { cookie: _cookie, ...headers } = request.headers;
    return {
      version: '2.0',
      routeKey,
      rawPath: request.rawPath,
      rawQueryString: request.rawQueryString,
      ...(cookies ? { cookies } : {}),
      headers,
      ...(request.rawQueryString ? { queryStringParameters } : {}),
      requestContext: {
        accountId: this.options.accountId,
        apiId: this.options.api.logicalId,
        domainName: this.options.domainName,
        domainPrefix: this.options.domainName.split('.')[0],
        http: {
          method: request.method,
          path: request.rawPath,
          protocol: 'HTTP/1.1',
          sourceIp: request.sourceIp,
          userAgent: request.headers['user-agent'] ?? '',
        },
        requestId: randomUUID(),
        routeKey,
        stage: this.options.api.stageName,
        ...(authorizer ? { authorizer } : {}),
        time: now.toUTCString(),
        timeEpoch: now.getTime(),
      },
      ...(Object.keys(params).length ? { pathParameters: params } : {}),
      ...(request.body.length
        ? {
            body: isText ? request.body.toString('utf8') : request.body.toString('base64'),
            isBase64Encoded: !isText,
          }
        : { isBase64Encoded: false }),
    };
  }
}

/** Payload format 2.0 response rules: a structured result is used as is; anything else is JSON with 200. */
function toHttpResponse(result: unknown): HttpResponse {
  if (isRecord(result) && 'statusCode' in result) {
    // A result no HTTP response can carry is "a response in the wrong format": API Gateway answers 502
    // (https://docs.aws.amazon.com/lambda/latest/dg/services-apigateway-errors.html).
    return structuredResponse(result) ?? jsonResponse(502, { message: 'Internal Server Error' });
  }
  if (typeof result === 'string') {
    return { statusCode: 200, headers: { 'content-type': 'application/json' }, body: Buffer.from(result) };
  }
  return jsonResponse(200, result ?? null, {});
}

/** A structured (`statusCode`) result as an HTTP response; undefined when one of its parts cannot be sent. */
function structuredResponse(result: Record<string, unknown>): HttpResponse | undefined {
  const { statusCode, isBase64Encoded } = result;
  const headers = result.headers ?? {};
  const body = result.body ?? '';
  if (
    typeof statusCode !== 'number' ||
    !Number.isInteger(statusCode) ||
    statusCode < 100 ||
    statusCode > 599
  ) {
    return undefined;
  }
  if (!isRecord(headers) || typeof body !== 'string') return undefined;
  const sent: Record<string, string> = {};
  try {
    for (const [name, value] of Object.entries(headers)) {
      validateHeaderName(name);
      validateHeaderValue(name, String(value));
      sent[name.toLowerCase()] = String(value);
    }
  } catch {
    return undefined;
  }
  return {
    statusCode,
    headers: sent,
    body: isBase64Encoded ? Buffer.from(body, 'base64') : Buffer.from(body, 'utf8'),
  };
}
