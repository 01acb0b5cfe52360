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
