import { MISSING_TOKEN_DETAIL, resolveActor } from '../../../lambda/comments-api/identity';
import { UnauthorizedError } from '../../../lambda/shared/errors';
import { httpEvent, tokenClaims } from './fixtures';

describe('resolveActor', () => {
  it('takes the user id from the verified token’s sub', () => {
    // Prepare
    const event = httpEvent('POST /api/v1/posts', { claims: tokenClaims('user_42') });

    // Act
    const actor = resolveActor(event);

    // Assess
    expect(actor).toEqual({ userId: 'user_42' });
  });

  it('ignores an x-user-id header, even alongside verified claims', () => {
    // Prepare
    const event = httpEvent('POST /api/v1/posts', {
      claims: tokenClaims('user_42'),
      headers: { 'x-user-id': 'mallory' },
    });

    // Act
    const actor = resolveActor(event);

    // Assess
    expect(actor).toEqual({ userId: 'user_42' });
  });

  it.each<[string, { claims?: Record<string, unknown>; headers?: Record<string, string> }]>([
    ['there is no authorizer context', {}],
    ['only an x-user-id header names a user', { headers: { 'x-user-id': 'alice' } }],
    ['the claims have no sub', { claims: { iss: 'https://issuer.example.test' } }],
    ['the sub is empty', { claims: tokenClaims('') }],
    ['the sub is not of the id format', { claims: tokenClaims('alice@example.com') }],
    ['the sub is too long', { claims: tokenClaims('a'.repeat(65)) }],
    ['the sub is not a string', { claims: { sub: 42 } }],
  ])('answers 401 when %s', (_case, options) => {
    // Prepare
    const event = httpEvent('POST /api/v1/posts', options);

    // Act
    const resolve = (): unknown => resolveActor(event);

    // Assess
    expect(resolve).toThrow(UnauthorizedError);
    expect(resolve).toThrow(MISSING_TOKEN_DETAIL);
  });
});
