import { resolveActor, USER_ID_HEADER } from '../../../lambda/comments-api/identity';
import { UnauthorizedError } from '../../../lambda/shared/errors';
import { httpEvent } from './fixtures';

describe('resolveActor', () => {
  it('takes the user id from the x-user-id header', () => {
    // Prepare
    const event = httpEvent('POST /api/v1/posts', { headers: { [USER_ID_HEADER]: 'user_42' } });

    // Act
    const actor = resolveActor(event);

    // Assess
    expect(actor).toEqual({ userId: 'user_42' });
  });

  it.each([
    ['missing', {}, 'Missing x-user-id header'],
    ['blank', { [USER_ID_HEADER]: '  ' }, 'Missing x-user-id header'],
    ['malformed', { [USER_ID_HEADER]: 'alice@example.com' }, 'x-user-id header must match'],
    ['too long', { [USER_ID_HEADER]: 'a'.repeat(65) }, 'x-user-id header must match'],
  ])('answers 401 when the header is %s', (_case, headers, message) => {
    // Prepare
    const event = httpEvent('POST /api/v1/posts', { headers });

    // Act
    const resolve = (): unknown => resolveActor(event);

    // Assess
    expect(resolve).toThrow(UnauthorizedError);
    expect(resolve).toThrow(message);
  });
});
