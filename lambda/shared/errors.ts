/**
 * Domain errors: services throw these, handlers map them to responses in one place (http.ts). Anything
 * else reaching a handler is an unexpected failure: logged, counted, and answered with a 500.
 */
export abstract class DomainError extends Error {
  abstract readonly statusCode: number;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  readonly statusCode = 400;
}

export class NotFoundError extends DomainError {
  readonly statusCode = 404;
}

export class UnauthorizedError extends DomainError {
  readonly statusCode = 401;
}

export class ForbiddenError extends DomainError {
  readonly statusCode = 403;
}

export class PayloadTooLargeError extends DomainError {
  readonly statusCode = 413;
}

/** The request names something that exists, but not as it says (an event id that is not the stored one). */
export class ConflictError extends DomainError {
  readonly statusCode = 409;
}

/** The request is well formed but contradicts an earlier one: an Idempotency-Key reused with another body. */
export class UnprocessableEntityError extends DomainError {
  readonly statusCode = 422;
}

/**
 * Nothing was done and the same request may succeed in a moment: the store throttled it, or writers to
 * one post kept it from taking its seq. Answered 503 with `Retry-After`.
 */
export class ServiceUnavailableError extends DomainError {
  readonly statusCode = 503;
  constructor(
    message: string,
    /** Seconds the caller should wait before trying again. */
    readonly retryAfterSeconds = 1,
  ) {
    super(message);
  }
}
