import {
  broadcastPostId,
  ErrorCodes,
  errorEvent,
  ID_PATTERN,
  MAX_BROADCAST_BYTES,
  MAX_CLIENT_MESSAGE_BYTES,
  parseBroadcastEnvelope,
  parseClientMessage,
  parseServerEvent,
  type ErrorCode,
} from '../../contracts/protocol';

describe('parseClientMessage', () => {
  it.each<[string, string | null | undefined, ErrorCode]>([
    ['an empty body', '', ErrorCodes.invalidMessage],
    ['a missing body', undefined, ErrorCodes.invalidMessage],
    ['a null body', null, ErrorCodes.invalidMessage],
    ['text that is not JSON', 'subscribe p1', ErrorCodes.invalidJson],
    ['truncated JSON', '{"action":"subscribe"', ErrorCodes.invalidJson],
    ['a JSON array', '[{"action":"ping"}]', ErrorCodes.invalidMessage],
    ['a JSON number', '42', ErrorCodes.invalidMessage],
    ['a JSON string', '"ping"', ErrorCodes.invalidMessage],
    ['JSON null', 'null', ErrorCodes.invalidMessage],
    ['an object without action', '{"postId":"p1"}', ErrorCodes.invalidMessage],
    ['a non-string action', '{"action":7}', ErrorCodes.invalidMessage],
    ['an unknown action', '{"action":"shout"}', ErrorCodes.unknownAction],
    ['subscribe without postId', '{"action":"subscribe"}', ErrorCodes.invalidPostId],
    ['unsubscribe without postId', '{"action":"unsubscribe"}', ErrorCodes.invalidPostId],
    ['a numeric postId', '{"action":"subscribe","postId":12}', ErrorCodes.invalidPostId],
    ['a null postId', '{"action":"subscribe","postId":null}', ErrorCodes.invalidPostId],
    ['an empty postId', '{"action":"subscribe","postId":""}', ErrorCodes.invalidPostId],
    [
      'a postId over 64 chars',
      JSON.stringify({ action: 'subscribe', postId: 'p'.repeat(65) }),
      ErrorCodes.invalidPostId,
    ],
    ['a postId with bad characters', '{"action":"unsubscribe","postId":"p1/../x"}', ErrorCodes.invalidPostId],
    ['a postId with spaces', '{"action":"subscribe","postId":"p 1"}', ErrorCodes.invalidPostId],
    ['a negative lastSeq', '{"action":"subscribe","postId":"p1","lastSeq":-1}', ErrorCodes.invalidLastSeq],
    ['a fractional lastSeq', '{"action":"subscribe","postId":"p1","lastSeq":1.5}', ErrorCodes.invalidLastSeq],
    ['a string lastSeq', '{"action":"subscribe","postId":"p1","lastSeq":"4"}', ErrorCodes.invalidLastSeq],
    ['a null lastSeq', '{"action":"subscribe","postId":"p1","lastSeq":null}', ErrorCodes.invalidLastSeq],
    [
      'an unsafe lastSeq',
      '{"action":"subscribe","postId":"p1","lastSeq":9007199254740993}',
      ErrorCodes.invalidLastSeq,
    ],
    [
      'a lastSeq in exponent form past 2^53',
      '{"action":"subscribe","postId":"p1","lastSeq":1e300}',
      ErrorCodes.invalidLastSeq,
    ],
  ])('rejects %s', (_name, raw, code) => {
    // Act
    const result = parseClientMessage(raw);

    // Assess
    expect(result).toEqual({
      ok: false,
      error: expect.objectContaining({ code, message: expect.any(String) }),
    });
  });

  it.each([
    ['a negative lastSeq', '{"action":"subscribe","postId":"p1","lastSeq":-1}', 'p1'],
    ['a string lastSeq', '{"action":"subscribe","postId":"p1","lastSeq":"4"}', 'p1'],
    ['a forged cursor', '{"action":"listComments","postId":"p2","cursor":"a/b"}', 'p2'],
    ['a postId with bad characters', '{"action":"subscribe","postId":"p 1","lastSeq":-1}', undefined],
    ['an unknown action', '{"action":"shout","postId":"p1"}', undefined],
  ])('names the post a refused message named, for %s', (_name, raw, postId) => {
    // Act
    const result = parseClientMessage(raw);

    // Assess: a client with several requests in flight can tell which one was refused.
    expect(result.ok).toBe(false);
    expect(result.ok ? undefined : result.error.postId).toBe(postId);
  });

  it('rejects a message over MAX_CLIENT_MESSAGE_BYTES before parsing it', () => {
    // Prepare: valid JSON, so only the size can be the reason
    const raw = JSON.stringify({ action: 'ping', pad: 'x'.repeat(MAX_CLIENT_MESSAGE_BYTES) });

    // Act
    const result = parseClientMessage(raw);

    // Assess
    expect(result).toEqual({
      ok: false,
      error: { code: ErrorCodes.messageTooLarge, message: expect.any(String) },
    });
  });

  it('counts the limit in UTF-8 bytes, not characters', () => {
    // Prepare: fewer characters than the limit, more bytes
    const raw = JSON.stringify({ action: 'ping', pad: 'é'.repeat(MAX_CLIENT_MESSAGE_BYTES / 2) });

    // Act
    const result = parseClientMessage(raw);

    // Assess
    expect(raw.length).toBeLessThan(MAX_CLIENT_MESSAGE_BYTES + 50);
    expect(result.ok).toBe(false);
  });

  it('keeps a long unknown action out of the error message', () => {
    // Act
    const result = parseClientMessage(JSON.stringify({ action: 'a'.repeat(1000) }));

    // Assess
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error.message.length).toBeLessThan(200);
  });

  it.each([
    ['{"action":"ping"}', { action: 'ping' }],
    [
      '{"action":"subscribe","postId":"01HZX3J5C2N8Q7R6S5T4V3W2X1"}',
      { action: 'subscribe', postId: '01HZX3J5C2N8Q7R6S5T4V3W2X1' },
    ],
    ['{"action":"unsubscribe","postId":"post_1-a"}', { action: 'unsubscribe', postId: 'post_1-a' }],
    ['{"action":"subscribe","postId":"p1","extra":true}', { action: 'subscribe', postId: 'p1' }],
    ['{"action":"subscribe","postId":"p1","lastSeq":0}', { action: 'subscribe', postId: 'p1', lastSeq: 0 }],
    ['{"action":"subscribe","postId":"p1","lastSeq":42}', { action: 'subscribe', postId: 'p1', lastSeq: 42 }],
    // lastSeq only means something to subscribe.
    ['{"action":"unsubscribe","postId":"p1","lastSeq":"x"}', { action: 'unsubscribe', postId: 'p1' }],
  ])('parses %s', (raw, expected) => {
    // Act
    const result = parseClientMessage(raw);

    // Assess
    expect(result).toEqual({ ok: true, value: expected });
  });
});

describe('parseBroadcastEnvelope', () => {
  it.each<[string, string | null | undefined, ErrorCode]>([
    ['an empty body', '', ErrorCodes.invalidMessage],
    ['a missing body', undefined, ErrorCodes.invalidMessage],
    ['text that is not JSON', 'hello', ErrorCodes.invalidJson],
    ['a JSON array', '[]', ErrorCodes.invalidMessage],
    ['a missing type', '{"data":{}}', ErrorCodes.invalidMessage],
    ['a non-string type', '{"type":1}', ErrorCodes.invalidMessage],
    ['a type with capitals and spaces', '{"type":"Comment Created"}', ErrorCodes.invalidMessage],
    ['data that is an array', '{"type":"comment.created","data":[]}', ErrorCodes.invalidMessage],
    ['data that is a string', '{"type":"comment.created","data":"x"}', ErrorCodes.invalidMessage],
    [
      'an invalid data.postId',
      '{"type":"comment.created","data":{"postId":"a b"}}',
      ErrorCodes.invalidPostId,
    ],
    ['a numeric data.postId', '{"type":"comment.created","data":{"postId":3}}', ErrorCodes.invalidPostId],
    [
      'an eventId of the wrong format',
      '{"type":"comment.created","eventId":"a b"}',
      ErrorCodes.invalidMessage,
    ],
    ['a numeric eventId', '{"type":"comment.created","eventId":7}', ErrorCodes.invalidMessage],
    ['a seq of 0', '{"type":"comment.created","seq":0}', ErrorCodes.invalidMessage],
    ['a fractional seq', '{"type":"comment.created","seq":2.5}', ErrorCodes.invalidMessage],
    ['a string seq', '{"type":"comment.created","seq":"3"}', ErrorCodes.invalidMessage],
    ['an unsafe seq', '{"type":"comment.created","seq":9007199254740993}', ErrorCodes.invalidMessage],
  ])('rejects %s', (_name, raw, code) => {
    // Act
    const result = parseBroadcastEnvelope(raw);

    // Assess
    expect(result).toEqual({ ok: false, error: { code, message: expect.any(String) } });
  });

  it('rejects a body over MAX_BROADCAST_BYTES', () => {
    // Prepare
    const raw = JSON.stringify({ type: 'comment.created', data: { pad: 'x'.repeat(MAX_BROADCAST_BYTES) } });

    // Act
    const result = parseBroadcastEnvelope(raw);

    // Assess
    expect(result).toEqual({
      ok: false,
      error: { code: ErrorCodes.messageTooLarge, message: expect.any(String) },
    });
  });

  it('accepts an envelope without data, addressed to everyone', () => {
    // Act
    const result = parseBroadcastEnvelope('{"type":"system.notice"}');

    // Assess
    expect(result).toEqual({ ok: true, value: { type: 'system.notice' } });
    if (result.ok) expect(broadcastPostId(result.value)).toBeUndefined();
  });

  it('accepts an envelope with data.postId, addressed to that post', () => {
    // Prepare
    const envelope = { type: 'comment.created', data: { postId: 'p1', comment: { id: 'c1' } } };

    // Act
    const result = parseBroadcastEnvelope(JSON.stringify(envelope));

    // Assess
    expect(result).toEqual({ ok: true, value: envelope });
    if (result.ok) expect(broadcastPostId(result.value)).toBe('p1');
  });

  it('keeps eventId and seq, in the order {type, data, eventId, seq}, so the fan-out sends the same bytes', () => {
    // Prepare
    const raw =
      '{"type":"comment.updated","data":{"postId":"p1","commentId":"c1","action":"deleted"},' +
      '"eventId":"01J0000000000000000000000E","seq":12}';

    // Act
    const result = parseBroadcastEnvelope(raw);

    // Assess
    expect(result).toEqual({
      ok: true,
      value: {
        type: 'comment.updated',
        data: { postId: 'p1', commentId: 'c1', action: 'deleted' },
        eventId: '01J0000000000000000000000E',
        seq: 12,
      },
    });
    if (result.ok) expect(JSON.stringify(result.value)).toBe(raw);
  });

  it('puts eventId and seq after data whatever order they arrived in', () => {
    // Act
    const result = parseBroadcastEnvelope(
      '{"seq":1,"eventId":"E1","data":{"postId":"p1"},"type":"comment.created"}',
    );

    // Assess
    expect(result.ok && JSON.stringify(result.value)).toBe(
      '{"type":"comment.created","data":{"postId":"p1"},"eventId":"E1","seq":1}',
    );
  });

  it('still drops other top-level fields', () => {
    // Act
    const result = parseBroadcastEnvelope('{"type":"system.notice","extra":true}');

    // Assess
    expect(result).toEqual({ ok: true, value: { type: 'system.notice' } });
  });

  it('accepts data without postId, addressed to everyone', () => {
    // Act
    const result = parseBroadcastEnvelope('{"type":"comments.list","data":{"count":0}}');

    // Assess
    expect(result.ok).toBe(true);
    if (result.ok) expect(broadcastPostId(result.value)).toBeUndefined();
  });
});

describe('server events', () => {
  it('builds error events in the {type, data:{code, message}} envelope', () => {
    // Act
    const event = errorEvent({ code: ErrorCodes.postNotFound, message: 'nope' });

    // Assess
    expect(event).toEqual({ type: 'error', data: { code: 'POST_NOT_FOUND', message: 'nope' } });
  });

  it('reads server frames and refuses what is not an envelope', () => {
    // Act / Assess
    expect(parseServerEvent('{"type":"pong"}')).toEqual({ type: 'pong' });
    expect(parseServerEvent('not json')).toBeUndefined();
    expect(parseServerEvent('{"data":{}}')).toBeUndefined();
  });

  it('ID_PATTERN accepts ids of 1 to 64 url-safe characters only', () => {
    // Act / Assess
    expect(ID_PATTERN.test('a')).toBe(true);
    expect(ID_PATTERN.test('A'.repeat(64))).toBe(true);
    expect(ID_PATTERN.test('A'.repeat(65))).toBe(false);
    expect(ID_PATTERN.test('a.b')).toBe(false);
  });
});
