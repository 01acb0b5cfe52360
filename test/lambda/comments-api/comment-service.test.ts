import { IDEMPOTENCY_WINDOW_SECONDS } from '../../../contracts/idempotency';
import {
  CommentService,
  MAX_BODY_LENGTH,
  MAX_COMMENT_LENGTH,
  MAX_TITLE_LENGTH,
} from '../../../lambda/comments-api/comment-service';
import { StoreBusyError } from '../../../lambda/shared/change-cancellation';
import { encodeCursor } from '../../../lambda/shared/comment-cursor';
import { SeqContentionError } from '../../../lambda/shared/comment-repository';
import {
  ForbiddenError,
  NotFoundError,
  ServiceUnavailableError,
  UnprocessableEntityError,
  ValidationError,
} from '../../../lambda/shared/errors';
import { metrics } from '../../../lambda/shared/telemetry';
import { fixedTimeDependencies, InMemoryCommentRepository, RecordingPublisher } from './fixtures';

/** Every stage keeps change events 24 hours (stage-config.ts). */
const STAGE_EVENT_RETENTION_SECONDS = 86_400;

const alice = { userId: 'alice' };
const bob = { userId: 'bob' };

function setup(eventRetentionSeconds = STAGE_EVENT_RETENTION_SECONDS): {
  service: CommentService;
  repository: InMemoryCommentRepository;
  publisher: RecordingPublisher;
  advance: (ms: number) => void;
} {
  const { clock, newId, advance } = fixedTimeDependencies();
  // The store judges idempotency records by the same clock as the service stamps them with.
  const repository = new InMemoryCommentRepository(() => Math.floor(clock().getTime() / 1000));
  const publisher = new RecordingPublisher();
  const service = new CommentService({
    comments: repository,
    broadcaster: publisher,
    clock,
    newId,
    websocketEndpoint: 'wss://ws.example.test/dev',
    eventRetentionSeconds,
  });
  return { service, repository, publisher, advance };
}

afterEach(() => jest.restoreAllMocks());

/** 2027-01-01T00:00:00Z, the fixed clock's start, in epoch seconds. */
const START_SECONDS = Date.parse('2027-01-01T00:00:00.000Z') / 1000;

describe('CommentService', () => {
  describe('createPost', () => {
    it('stores a post by the actor with trimmed title and body', async () => {
      // Prepare
      const { service, repository } = setup();

      // Act
      const post = await service.createPost(alice, { title: '  Hello  ', body: ' World \n' });

      // Assess
      expect(post).toEqual({
        id: 'ID0001',
        title: 'Hello',
        body: 'World',
        userId: 'alice',
        createdAt: '2027-01-01T00:00:00.000Z',
      });
      expect(repository.posts.get('ID0001')).toEqual(post);
    });

    it('defaults the body to an empty string', async () => {
      // Prepare
      const { service } = setup();

      // Act
      const post = await service.createPost(alice, { title: 'Title only' });

      // Assess
      expect(post.body).toBe('');
    });

    it.each([
      ['an empty title', { title: '   ' }, 'title must not be empty'],
      ['a title too long', { title: 'x'.repeat(MAX_TITLE_LENGTH + 1) }, `at most ${MAX_TITLE_LENGTH}`],
      [
        'a body too long',
        { title: 't', body: 'x'.repeat(MAX_BODY_LENGTH + 1) },
        `at most ${MAX_BODY_LENGTH}`,
      ],
      ['a control character in the title', { title: 'a\u0007b' }, 'control characters'],
    ])('refuses %s', async (_case, input, message) => {
      // Prepare
      const { service, repository } = setup();

      // Act
      const attempt = service.createPost(alice, input);

      // Assess
      await expect(attempt).rejects.toThrow(ValidationError);
      await expect(attempt).rejects.toThrow(message);
      expect(repository.posts.size).toBe(0);
    });
  });

  describe('getPost', () => {
    it('answers NotFoundError for an unknown post and ValidationError for a malformed id', async () => {
      // Prepare
      const { service } = setup();

      // Act
      const unknown = service.getPost('nope');
      const malformed = service.getPost('not/an/id');

      // Assess
      await expect(unknown).rejects.toThrow(new NotFoundError('Post not found'));
      await expect(malformed).rejects.toThrow(ValidationError);
    });
  });

  describe('createComment', () => {
    it('stores the comment and publishes comment.created with the stored comment, eventId and seq', async () => {
      // Prepare
      const { service, publisher } = setup();
      const post = await service.createPost(alice, { title: 'Post' });

      // Act
      const comment = await service.createComment(bob, post.id, '  Nice post  ');

      // Assess
      expect(comment).toEqual({
        id: 'ID0002',
        postId: post.id,
        userId: 'bob',
        content: 'Nice post',
        createdAt: '2027-01-01T00:00:00.000Z',
      });
      expect(publisher.events).toEqual([
        { type: 'comment.created', data: { postId: post.id, comment }, eventId: 'ID0003', seq: 1 },
      ]);
    });

    it('publishes exactly the event it stored, and stamps it with the retention window', async () => {
      // Prepare
      const { service, repository, publisher } = setup(3600);
      const post = await service.createPost(alice, { title: 'Post' });

      // Act
      await service.createComment(bob, post.id, 'one');
      await service.createComment(bob, post.id, 'two');

      // Assess
      const stored = repository.events.get(post.id) ?? [];
      expect(publisher.events).toEqual(stored.map(({ event }) => event));
      expect(stored.map(({ event }) => event.seq)).toEqual([1, 2]);
      expect(stored[0]).toMatchObject({
        createdAt: '2027-01-01T00:00:00.000Z',
        expiresAt: START_SECONDS + 3600,
      });
    });

    it('keeps events for the stage’s retention, 24 h', async () => {
      // Prepare
      const { service, repository } = setup();
      const post = await service.createPost(alice, { title: 'Post' });

      // Act
      await service.createComment(bob, post.id, 'one');

      // Assess
      expect(STAGE_EVENT_RETENTION_SECONDS).toBe(86_400);
      expect(repository.events.get(post.id)?.[0]?.expiresAt).toBe(START_SECONDS + 86_400);
    });

    it.each([0, -1, 1.5])('refuses an event retention of %p seconds at construction', (seconds) => {
      // Act / Assess
      expect(() => setup(seconds)).toThrow(RangeError);
    });

    it('answers Post not found, and publishes nothing, when the post does not exist', async () => {
      // Prepare
      const { service, publisher } = setup();

      // Act
      const attempt = service.createComment(bob, 'missing', 'Hello');

      // Assess
      await expect(attempt).rejects.toThrow(new NotFoundError('Post not found'));
      expect(publisher.events).toEqual([]);
    });

    it('accepts exactly the maximum length, counting code points rather than UTF-16 units', async () => {
      // Prepare
      const { service } = setup();
      const post = await service.createPost(alice, { title: 'Post' });
      const emoji = '\u{1F600}'.repeat(MAX_COMMENT_LENGTH);

      // Act
      const comment = await service.createComment(bob, post.id, emoji);

      // Assess
      expect(comment.content).toBe(emoji);
    });

    it('keeps newlines and tabs in content', async () => {
      // Prepare
      const { service } = setup();
      const post = await service.createPost(alice, { title: 'Post' });

      // Act
      const comment = await service.createComment(bob, post.id, 'line one\r\n\tline two');

      // Assess
      expect(comment.content).toBe('line one\r\n\tline two');
    });

    it.each([
      ['empty content', ''],
      ['blank content', ' \n\t '],
      ['content over the limit', 'x'.repeat(MAX_COMMENT_LENGTH + 1)],
      ['a NUL character', 'a\u0000b'],
      ['an escape sequence', 'a\u001b[31mred'],
      ['a C1 control character', 'a\u0085b'],
    ])('refuses %s', async (_case, content) => {
      // Prepare
      const { service, publisher } = setup();
      const post = await service.createPost(alice, { title: 'Post' });

      // Act
      const attempt = service.createComment(bob, post.id, content);

      // Assess
      await expect(attempt).rejects.toThrow(ValidationError);
      expect(publisher.events).toEqual([]);
    });

    it('refuses a malformed post id with a message naming the field', async () => {
      // Prepare
      const { service } = setup();

      // Act
      const attempt = service.createComment(bob, 'bad id', 'Hello');

      // Assess
      await expect(attempt).rejects.toThrow(/^postId must match/);
    });
  });

  describe('listComments', () => {
    it('pages through comments oldest first', async () => {
      // Prepare
      const { service } = setup();
      const post = await service.createPost(alice, { title: 'Post' });
      const created = [];
      for (const text of ['one', 'two', 'three'])
        created.push(await service.createComment(bob, post.id, text));

      // Act
      const first = await service.listComments(post.id, { limit: 2 });
      const second = await service.listComments(post.id, { limit: 2, cursor: first.nextCursor });

      // Assess
      expect(first).toEqual({
        postId: post.id,
        comments: created.slice(0, 2),
        count: 2,
        // Every comment takes two ids: its own, then its event's.
        nextCursor: encodeCursor('ID0004'),
      });
      expect(second).toEqual({ postId: post.id, comments: created.slice(2), count: 1 });
    });

    it('answers Post not found for an unknown post', async () => {
      // Prepare
      const { service } = setup();

      // Act
      const attempt = service.listComments('missing');

      // Assess
      await expect(attempt).rejects.toThrow(new NotFoundError('Post not found'));
    });

    it('turns an invalid cursor into a ValidationError, even for an unknown post', async () => {
      // Prepare
      const { service } = setup();

      // Act
      const attempt = service.listComments('missing', { cursor: '!garbage' });

      // Assess
      await expect(attempt).rejects.toThrow(new ValidationError('Invalid pagination cursor'));
    });

    it.each([0, 101, 1.5, Number.NaN])('refuses limit %p', async (limit) => {
      // Prepare
      const { service } = setup();
      const post = await service.createPost(alice, { title: 'Post' });

      // Act
      const attempt = service.listComments(post.id, { limit });

      // Assess
      await expect(attempt).rejects.toThrow('limit must be an integer from 1 to 100');
    });
  });

  describe('updateComment and deleteComment', () => {
    async function withComment(): Promise<ReturnType<typeof setup> & { postId: string; commentId: string }> {
      const context = setup();
      const post = await context.service.createPost(alice, { title: 'Post' });
      const comment = await context.service.createComment(bob, post.id, 'First');
      context.publisher.events.length = 0;
      return { ...context, postId: post.id, commentId: comment.id };
    }

    it('updates the author’s comment, stamps updatedAt and publishes comment.updated with the next seq', async () => {
      // Prepare
      const { service, repository, publisher, advance, postId, commentId } = await withComment();
      advance(60_000);

      // Act
      const updated = await service.updateComment(bob, postId, commentId, ' Edited ');

      // Assess
      expect(updated).toMatchObject({
        id: commentId,
        content: 'Edited',
        updatedAt: '2027-01-01T00:01:00.000Z',
      });
      expect(publisher.events).toEqual([
        {
          type: 'comment.updated',
          // The comment as stored after the edit, so that clients need no second read to show it.
          data: { postId, commentId, action: 'updated', comment: updated },
          eventId: expect.stringMatching(/^ID\d{4}$/),
          seq: 2,
        },
      ]);
      expect(updated).toEqual(repository.comments.get(`${postId}/${commentId}`));
    });

    it('deletes the author’s comment and publishes comment.updated with action deleted', async () => {
      // Prepare
      const { service, repository, publisher, postId, commentId } = await withComment();

      // Act
      await service.deleteComment(bob, postId, commentId);

      // Assess
      expect(repository.comments.size).toBe(0);
      expect(publisher.events).toEqual([
        {
          type: 'comment.updated',
          data: { postId, commentId, action: 'deleted' },
          eventId: expect.stringMatching(/^ID\d{4}$/),
          seq: 2,
        },
      ]);
    });

    it('numbers the changes of one post 1, 2, 3 with distinct event ids', async () => {
      // Prepare
      const { service, publisher, postId, commentId } = await withComment();

      // Act
      await service.updateComment(bob, postId, commentId, 'Edited');
      await service.deleteComment(bob, postId, commentId);

      // Assess
      expect(publisher.events.map((event) => ('seq' in event ? event.seq : undefined))).toEqual([2, 3]);
      const ids = publisher.events.map((event) => ('eventId' in event ? event.eventId : undefined));
      expect(new Set(ids).size).toBe(2);
    });

    it('refuses another user’s change with ForbiddenError and leaves the comment alone', async () => {
      // Prepare
      const { service, repository, publisher, postId, commentId } = await withComment();

      // Act
      const update = service.updateComment(alice, postId, commentId, 'Hijacked');
      const removal = service.deleteComment(alice, postId, commentId);

      // Assess
      await expect(update).rejects.toThrow(ForbiddenError);
      await expect(removal).rejects.toThrow(ForbiddenError);
      expect(repository.comments.get(`${postId}/${commentId}`)?.content).toBe('First');
      expect(publisher.events).toEqual([]);
    });

    it('answers Comment not found for a missing comment', async () => {
      // Prepare
      const { service, publisher, postId } = await withComment();

      // Act
      const update = service.updateComment(bob, postId, 'missing', 'Edited');
      const removal = service.deleteComment(bob, postId, 'missing');

      // Assess
      await expect(update).rejects.toThrow(new NotFoundError('Comment not found'));
      await expect(removal).rejects.toThrow(new NotFoundError('Comment not found'));
      expect(publisher.events).toEqual([]);
    });

    it.each([
      ['commentNotFound', new NotFoundError('Comment not found')],
      ['notAuthor', new ForbiddenError('Only the author may change this comment')],
      ['postNotFound', new NotFoundError('Post not found')],
    ] as const)(
      'maps a write refused as %s (the comment changed after the check) to its error, publishing nothing',
      async (reason, expected) => {
        // Prepare
        const { service, repository, publisher, postId, commentId } = await withComment();
        jest.spyOn(repository, 'updateComment').mockResolvedValue({ ok: false, reason });
        jest.spyOn(repository, 'deleteComment').mockResolvedValue({ ok: false, reason });

        // Act
        const update = service.updateComment(bob, postId, commentId, 'Edited');
        const removal = service.deleteComment(bob, postId, commentId);

        // Assess
        await expect(update).rejects.toThrow(expected);
        await expect(removal).rejects.toThrow(expected);
        expect(publisher.events).toEqual([]);
      },
    );

    it('passes the acting user to the write, which checks authorship again', async () => {
      // Prepare
      const { service, repository, postId, commentId } = await withComment();
      const update = jest.spyOn(repository, 'updateComment');
      const removal = jest.spyOn(repository, 'deleteComment');

      // Act
      await service.updateComment(bob, postId, commentId, 'Edited');
      await service.deleteComment(bob, postId, commentId);

      // Assess
      expect(update).toHaveBeenCalledWith(
        {
          postId,
          commentId,
          userId: 'bob',
          content: 'Edited',
          updatedAt: '2027-01-01T00:00:00.000Z',
          // The comment's own creation time, read by the ownership check: the event carries it.
          createdAt: '2027-01-01T00:00:00.000Z',
        },
        {
          eventId: expect.any(String),
          createdAt: '2027-01-01T00:00:00.000Z',
          expiresAt: START_SECONDS + 86_400,
        },
      );
      expect(removal).toHaveBeenCalledWith({ postId, commentId, userId: 'bob' }, expect.any(Object));
    });
  });

  describe('idempotent creates (Idempotency-Key)', () => {
    const key = (fingerprint = 'fingerprint-of-the-request') => ({ key: 'key-0001', fingerprint });

    it('answers a retry of a comment with the first answer, storing and publishing nothing more', async () => {
      // Prepare
      const { service, repository, publisher, advance } = setup();
      const post = await service.createPost(alice, { title: 'Post' });
      const first = await service.createComment(bob, post.id, 'Hello', key());
      advance(5_000);
      const addMetric = jest.spyOn(metrics, 'addMetric');

      // Act
      const retry = await service.createComment(bob, post.id, 'Hello', key());

      // Assess
      expect(retry).toEqual(first);
      expect(repository.comments.size).toBe(1);
      expect(repository.events.get(post.id)).toHaveLength(1);
      expect(publisher.events).toHaveLength(1);
      expect(addMetric).toHaveBeenCalledWith('IdempotentReplays', 'Count', 1);
    });

    it('stores the record with the write: the user, the key, the fingerprint, the answer and a day to live', async () => {
      // Prepare
      const { service, repository } = setup();
      const post = await service.createPost(alice, { title: 'Post' });

      // Act
      const comment = await service.createComment(bob, post.id, 'Hello', key('fp-1'));

      // Assess
      expect(repository.idempotency.get('bob#key-0001')).toEqual({
        userId: 'bob',
        key: 'key-0001',
        requestHash: 'fp-1',
        result: JSON.stringify(comment),
        expiresAt: START_SECONDS + IDEMPOTENCY_WINDOW_SECONDS,
      });
    });

    it('refuses the same key with another request with 422, storing and publishing nothing', async () => {
      // Prepare
      const { service, repository, publisher } = setup();
      const post = await service.createPost(alice, { title: 'Post' });
      await service.createComment(bob, post.id, 'Hello', key('fp-hello'));

      // Act
      const attempt = service.createComment(bob, post.id, 'Something else', key('fp-something-else'));

      // Assess
      await expect(attempt).rejects.toThrow(UnprocessableEntityError);
      await expect(attempt).rejects.toThrow(/already used for another request/);
      expect(repository.comments.size).toBe(1);
      expect(publisher.events).toHaveLength(1);
    });

    it('creates once for duplicates sent at the same time, and answers both alike', async () => {
      // Prepare
      const { service, repository, publisher } = setup();
      const post = await service.createPost(alice, { title: 'Post' });

      // Act
      const answers = await Promise.all([
        service.createComment(bob, post.id, 'Hello', key()),
        service.createComment(bob, post.id, 'Hello', key()),
        service.createComment(bob, post.id, 'Hello', key()),
      ]);

      // Assess
      expect(answers[1]).toEqual(answers[0]);
      expect(answers[2]).toEqual(answers[0]);
      expect(repository.comments.size).toBe(1);
      expect(publisher.events).toHaveLength(1);
    });

    it('keeps keys per user: another user’s request under the same key is a request of its own', async () => {
      // Prepare
      const { service, repository } = setup();
      const post = await service.createPost(alice, { title: 'Post' });
      const bobs = await service.createComment(bob, post.id, 'Hello', key());

      // Act
      const alices = await service.createComment(alice, post.id, 'Hello', key());

      // Assess
      expect(alices.id).not.toBe(bobs.id);
      expect(alices.userId).toBe('alice');
      expect(repository.comments.size).toBe(2);
    });

    it('frees a key once its day has passed: the same request then creates again', async () => {
      // Prepare
      const { service, repository, advance } = setup();
      const post = await service.createPost(alice, { title: 'Post' });
      const first = await service.createComment(bob, post.id, 'Hello', key());
      advance((IDEMPOTENCY_WINDOW_SECONDS + 1) * 1000);

      // Act
      const later = await service.createComment(bob, post.id, 'Hello', key());

      // Assess
      expect(later.id).not.toBe(first.id);
      expect(repository.comments.size).toBe(2);
    });

    it('creates every time without a key', async () => {
      // Prepare
      const { service, repository } = setup();
      const post = await service.createPost(alice, { title: 'Post' });

      // Act
      await service.createComment(bob, post.id, 'Hello');
      await service.createComment(bob, post.id, 'Hello');

      // Assess
      expect(repository.comments.size).toBe(2);
      expect(repository.idempotency.size).toBe(0);
    });

    it('still refuses a missing post, even under a key used before', async () => {
      // Prepare
      const { service, publisher } = setup();

      // Act
      const attempt = service.createComment(bob, 'missing', 'Hello', key());

      // Assess
      await expect(attempt).rejects.toThrow(new NotFoundError('Post not found'));
      expect(publisher.events).toEqual([]);
    });

    it('answers a retry of a post with the first post, storing nothing more', async () => {
      // Prepare
      const { service, repository, advance } = setup();
      const first = await service.createPost(alice, { title: 'Post', body: 'Body' }, key());
      advance(1_000);

      // Act
      const retry = await service.createPost(alice, { title: 'Post', body: 'Body' }, key());

      // Assess
      expect(retry).toEqual(first);
      expect(repository.posts.size).toBe(1);
    });

    it('refuses a post under a key used for another request with 422', async () => {
      // Prepare
      const { service, repository } = setup();
      await service.createPost(alice, { title: 'Post' }, key('fp-post'));

      // Act
      const attempt = service.createPost(alice, { title: 'Another' }, key('fp-another'));

      // Assess
      await expect(attempt).rejects.toThrow(UnprocessableEntityError);
      expect(repository.posts.size).toBe(1);
    });
  });

  describe('capacity refusals', () => {
    it.each([
      ['writers of the post kept it from its seq', new SeqContentionError('p1', 40, 5000)],
      ['the table throttled it', new StoreBusyError()],
    ])('answers 503 with a retry delay when %s, publishing nothing', async (_case, error) => {
      // Prepare
      const { service, repository, publisher } = setup();
      const post = await service.createPost(alice, { title: 'Post' });
      jest.spyOn(repository, 'createComment').mockRejectedValue(error);

      // Act
      const attempt = service.createComment(bob, post.id, 'Hello');

      // Assess
      await expect(attempt).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(attempt).rejects.toMatchObject({ statusCode: 503, retryAfterSeconds: 1 });
      expect(publisher.events).toEqual([]);
    });

    it('answers 503 for an edit or a deletion refused for capacity', async () => {
      // Prepare
      const { service, repository, publisher } = setup();
      const post = await service.createPost(alice, { title: 'Post' });
      const comment = await service.createComment(bob, post.id, 'Hello');
      publisher.events.length = 0;
      jest.spyOn(repository, 'updateComment').mockRejectedValue(new StoreBusyError());
      jest.spyOn(repository, 'deleteComment').mockRejectedValue(new SeqContentionError(post.id, 9, 5000));

      // Act
      const update = service.updateComment(bob, post.id, comment.id, 'Edited');
      const removal = service.deleteComment(bob, post.id, comment.id);

      // Assess
      await expect(update).rejects.toBeInstanceOf(ServiceUnavailableError);
      await expect(removal).rejects.toBeInstanceOf(ServiceUnavailableError);
      expect(publisher.events).toEqual([]);
    });

    it('lets any other failure of the store through as it is', async () => {
      // Prepare
      const { service, repository } = setup();
      const post = await service.createPost(alice, { title: 'Post' });
      jest.spyOn(repository, 'createComment').mockRejectedValue(new Error('table unavailable'));

      // Act
      const attempt = service.createComment(bob, post.id, 'Hello');

      // Assess
      await expect(attempt).rejects.toThrow('table unavailable');
      await expect(attempt).rejects.not.toBeInstanceOf(ServiceUnavailableError);
    });
  });

  describe('connectionStatus', () => {
    it('reports healthy with the count and the WebSocket endpoint', async () => {
      // Prepare
      const { service, publisher } = setup();
      publisher.count = 3;

      // Act
      const status = await service.connectionStatus();

      // Assess
      expect(status).toEqual({
        status: 'healthy',
        connectionCount: 3,
        timestamp: '2027-01-01T00:00:00.000Z',
        endpoint: 'wss://ws.example.test/dev',
      });
    });

    it('reports the error, with a zero count, when the count is unavailable', async () => {
      // Prepare
      const { service, publisher } = setup();
      publisher.count = new Error('Broadcast API answered HTTP 503');

      // Act
      const status = await service.connectionStatus();

      // Assess
      expect(status).toEqual({
        status: 'error',
        connectionCount: 0,
        error: 'Broadcast API answered HTTP 503',
        timestamp: '2027-01-01T00:00:00.000Z',
      });
    });
  });
});
