import {
  RealtimeCommentsClient,
  type Comment,
  type CommentEvent,
  type CommentsListEvent,
  type ConnectionState,
  type PostState,
  type RealtimeCommentsClientOptions,
  type RealtimeCommentsError,
} from '../../client';
import { fakeWebSocket, POST, snapshot, subscribed } from './fake-websocket';

export const URL = 'wss://example.test/dev';

/** Everything one subscription was handed, in order. */
export function recorder(): {
  handlers: {
    onEvent: (event: CommentEvent) => void;
    onSnapshot: (event: CommentsListEvent) => void;
    onError: (error: RealtimeCommentsError) => void;
    onView: (comments: readonly Comment[]) => void;
    onState: (state: PostState) => void;
  };
  events: CommentEvent[];
  snapshots: CommentsListEvent[];
  errors: RealtimeCommentsError[];
  views: (readonly Comment[])[];
  states: PostState[];
  seqs: () => (number | undefined)[];
} {
  const events: CommentEvent[] = [];
  const snapshots: CommentsListEvent[] = [];
  const errors: RealtimeCommentsError[] = [];
  const views: (readonly Comment[])[] = [];
  const states: PostState[] = [];
  return {
    handlers: {
      onEvent: (event) => events.push(event),
      onSnapshot: (event) => snapshots.push(event),
      onError: (error) => errors.push(error),
      onView: (comments) => views.push(comments),
      onState: (state) => states.push(state),
    },
    events,
    snapshots,
    errors,
    views,
    states,
    seqs: () => events.map((event) => event.seq),
  };
}

/** Lets the client's awaits (the token) and due timers run. */
export const settle = (ms = 0): Promise<void> => jest.advanceTimersByTimeAsync(ms);

export function setup(options: Partial<RealtimeCommentsClientOptions> = {}) {
  const fake = fakeWebSocket();
  const states: ConnectionState[] = [];
  const errors: RealtimeCommentsError[] = [];
  const client = new RealtimeCommentsClient({
    url: URL,
    token: 'static-token',
    WebSocket: fake.WebSocket,
    random: () => 0.5,
    ...options,
  });
  client.on('state', (state) => states.push(state));
  client.on('error', (error) => errors.push(error));
  return { client, ...fake, states, errors };
}

/** Connects, opens the socket and, when subscribed, answers the subscribe with a snapshot at `seq`. */
export async function connected(
  options: Partial<RealtimeCommentsClientOptions> = {},
  seq: number | undefined = 0,
) {
  const context = setup(options);
  const post = recorder();
  context.client.subscribe(POST, post.handlers);
  context.client.connect();
  await settle();
  const socket = context.latest();
  socket.open();
  socket.receive(subscribed());
  socket.receive(snapshot(seq));
  return { ...context, socket, post };
}
