/**
 * The local demo page: create or open a post, read and write its comments, and watch changes from other
 * tabs arrive live. The client SDK (client/) does the hard parts: RealtimeCommentsClient keeps the
 * connection and hands over the open post's complete, ordered list of comments (its view) after every
 * change; CommentsApiClient writes, retrying with one idempotency key per user action. This page renders
 * the view, says what state the connection and the post are in, and turns failures into what the user
 * can do about them. Comment text only ever reaches the DOM as textContent or a textarea's value.
 */
import {
  CommentsApiClient,
  ErrorCodes,
  RealtimeCommentsClient,
  type Comment,
  type ConnectionState,
  type Post,
  type PostState,
  type RealtimeCommentsError,
  type TokenRequest,
} from '@realtime-comments/client';
import { isValidId } from '../../../contracts/protocol';
import { ActionKeys } from './action-keys';
import { CommentList } from './comment-list';
import { requestToken } from './dev-token';
import { $, onSubmit, submitOnCtrlEnter, whileBusy } from './dom';
import { describeFailure } from './failures';
import { forgetPost, rememberPost, renderRecent } from './recent-posts';

interface DemoConfig {
  webSocketUrl: string;
  /** Base of the comments API; empty for the page's own origin. */
  apiBaseUrl: string;
  /** The local stack's dev-only token route: the demo signs in through it. */
  tokenUrl: string;
}

/** The post the URL names, from the moment it is asked for. */
interface OpenPost {
  readonly id: string;
  /** Set once the API has answered with it: only then is it shown and followed. */
  post?: Post;
  unsubscribe?: () => void;
  /** It could not be read for want of a server: read it again once the connection is back. */
  retryWhenOnline?: boolean;
}

const USER_KEY = 'realtime-comments.userId';

const state = {
  config: undefined as DemoConfig | undefined,
  client: undefined as RealtimeCommentsClient | undefined,
  api: undefined as CommentsApiClient | undefined,
  token: undefined as string | undefined,
  /** The user id the token was issued for: the comments' userId, as verified by the API. */
  signedInAs: undefined as string | undefined,
  open: undefined as OpenPost | undefined,
  /** Unsent comment text of posts no longer open, so switching posts loses nothing. */
  drafts: new Map<string, string>(),
  /** What the error box says is that the server is unreachable: cleared once the connection is back. */
  unreachableShown: false,
  emptyState: { heading: '', text: '' },
};

// ---- failures ----------------------------------------------------------------------------------------

function showError(message: string | undefined, unreachable = false): void {
  const box = $('error');
  box.textContent = message ?? '';
  box.hidden = !message;
  state.unreachableShown = Boolean(message) && unreachable;
}

/** A failed action: a post found gone is closed; anything else is said, with what was kept. */
function reportFailure(error: unknown, postId: string | undefined, kept = ''): void {
  const failure = describeFailure(error);
  if (failure.kind === 'post-gone' && postId !== undefined) {
    postGone(postId);
    return;
  }
  const unreachable = failure.kind === 'unreachable';
  showError(unreachable && kept ? `${failure.message} ${kept}` : failure.message, unreachable);
}

// ---- connection and sign-in --------------------------------------------------------------------------

function client(): RealtimeCommentsClient {
  if (!state.client) throw new Error('Not configured yet');
  return state.client;
}

function api(): CommentsApiClient {
  if (!state.api) throw new Error('Not configured yet');
  return state.api;
}

function setConnectionState(next: ConnectionState): void {
  const badge = $('connection-state');
  badge.textContent = next;
  badge.dataset.state = next;
  $('reconnect-now').hidden = next !== 'reconnecting' && next !== 'closed';
  if (next !== 'open') return;
  if (state.unreachableShown) showError(undefined);
  if (state.open?.retryWhenOnline) void openPost(state.open.id);
}

/** Both clients ask for the token before each connection or write; a refused one is issued again. */
async function currentToken({ refresh }: TokenRequest): Promise<string> {
  if (refresh && state.signedInAs)
    state.token = await requestToken(state.config?.tokenUrl ?? '', state.signedInAs);
  return state.token ?? '';
}

async function signIn(userId: string): Promise<void> {
  state.token = await requestToken(state.config?.tokenUrl ?? '', userId);
  state.signedInAs = userId;
  localStorage.setItem(USER_KEY, userId);
  $('signed-in-as').textContent = userId;
  // A new connection with the new token takes over from the old one, which closes once it is replaced.
  if (client().state === 'idle') client().connect();
  else client().reconnect();
  commentList.stopEditing({ refocus: false });
  renderComments();
}

// ---- the open post -----------------------------------------------------------------------------------

function showNotice(heading: string, text: string, { retry = false } = {}): void {
  $('post-panel').hidden = true;
  $('post-notice').hidden = false;
  $('notice-heading').textContent = heading;
  $('notice-text').textContent = text;
  $('notice-retry').hidden = !retry;
}

/** Stops showing the open post: its subscription, comments and editor go; its unsent text is kept. */
function closePost(): void {
  const open = state.open;
  if (!open) return;
  open.unsubscribe?.();
  const draft = $<HTMLTextAreaElement>('comment-content');
  if (open.post && draft.value) state.drafts.set(open.id, draft.value);
  draft.value = '';
  state.open = undefined;
  commentList.clear();
  $('post-panel').hidden = true;
}

async function openPost(postId: string): Promise<void> {
  closePost();
  const open: OpenPost = { id: postId };
  state.open = open;
  if (!isValidId(postId)) {
    showNotice('Post not found', `"${postId}" is not a post id: ids are 1 to 64 letters, digits, - or _.`);
    return;
  }
  showNotice('Opening post…', `Post ${postId}`);
  try {
    const post = await api().getPost(postId);
    if (state.open === open) showPost(open, post);
  } catch (error) {
    if (state.open !== open) return;
    const failure = describeFailure(error);
    if (failure.kind === 'post-gone') {
      forgetPost(postId);
      showNotice('Post not found', `No post has the id ${postId}. Check the id, or create a new post.`);
    } else {
      open.retryWhenOnline = failure.kind === 'unreachable';
      showNotice('Could not open the post', failure.message, { retry: true });
    }
  }
}

function showPost(open: OpenPost, post: Post): void {
  open.post = post;
  $('post-heading').textContent = post.title;
  $('current-post-id').textContent = post.id;
  $<HTMLTextAreaElement>('comment-content').value = state.drafts.get(post.id) ?? '';
  state.drafts.delete(post.id);
  $('post-notice').hidden = true;
  $('post-panel').hidden = false;
  rememberPost(post);
  setPostState('syncing');
  // The SDK resubscribes after every reconnect and repairs what went missing; the page renders its view.
  open.unsubscribe = client().subscribe(post.id, {
    onSnapshot: () => undefined,
    onEvent: () => undefined,
    onView: () => {
      if (state.open === open) renderComments();
    },
    onState: (postState) => {
      if (state.open !== open) return;
      setPostState(postState);
      renderComments();
    },
    onError: (error) => {
      if (state.open === open) onPostError(post.id, error);
    },
  });
  renderComments();
}

function setPostState(postState: PostState): void {
  const badge = $('post-state');
  badge.textContent = postState;
  badge.dataset.state = postState;
}

/** Errors the SDK retries by itself show as the post's state (`syncing`); only final ones are said. */
function onPostError(postId: string, error: RealtimeCommentsError): void {
  if (error.code === ErrorCodes.postNotFound) postGone(postId);
  else if (!error.retrying) showError(`${error.code}: ${error.message}`);
}

/** The server no longer has the post (e.g. a local stack restarted with an empty database). */
function postGone(postId: string): void {
  forgetPost(postId);
  if (state.open?.id !== postId) return;
  closePost();
  state.drafts.delete(postId);
  showNotice(
    'This post no longer exists',
    `Post ${postId} is not on the server any more (a local stack restarted with an empty database loses ` +
      'its posts). Create a new post, or open another.',
  );
}

// ---- comments ----------------------------------------------------------------------------------------

/** One idempotency key per write the user asked for, reused when they send it again after a failure. */
const actionKeys = new ActionKeys();

const commentList = new CommentList({
  signedInAs: () => state.signedInAs,
  save: saveEdit,
  delete: deleteComment,
});

function renderComments(): void {
  const open = state.open;
  if (!open?.post) return;
  commentList.render(client().comments(open.id), client().postState(open.id) === 'live');
}

function saveEdit(comment: Comment, content: string, save: HTMLButtonElement): Promise<void> {
  if (content === comment.content) {
    commentList.stopEditing();
    return Promise.resolve();
  }
  return whileBusy(save, 'Saving…', async () => {
    try {
      const updated = await api().editComment(comment.postId, comment.id, content);
      commentList.wrote(updated);
      if (commentList.editing === comment.id) commentList.stopEditing();
      else renderComments();
      showError(undefined);
    } catch (error) {
      reportFailure(error, comment.postId, 'Your edit is kept in the editor.');
    }
  });
}

function deleteComment(comment: Comment, deleteButton: HTMLButtonElement): Promise<void> {
  return whileBusy(deleteButton, 'Deleting…', async () => {
    try {
      await api().deleteComment(comment.postId, comment.id);
      commentList.deleted(comment.id);
      renderComments();
      showError(undefined);
    } catch (error) {
      reportFailure(error, comment.postId);
    }
  });
}

async function addComment(submit: HTMLButtonElement): Promise<void> {
  const open = state.open;
  const textarea = $<HTMLTextAreaElement>('comment-content');
  const content = textarea.value;
  if (!open?.post || !content.trim()) return;
  const postId = open.post.id;
  const action = `comment ${postId} ${content}`;
  await whileBusy(submit, 'Sending…', async () => {
    try {
      await api().createComment(postId, content, { idempotencyKey: actionKeys.keyFor(action) });
      actionKeys.done(action);
      // The comment shows once the view has it (at once while live); the text was sent, so it goes.
      if (state.open === open && textarea.value === content) textarea.value = '';
      if (state.drafts.get(postId) === content) state.drafts.delete(postId);
      showError(undefined);
    } catch (error) {
      reportFailure(error, postId, 'Your comment is kept: send it again once the server is back.');
    }
  });
}

async function createPost(submit: HTMLButtonElement): Promise<void> {
  const input = $<HTMLInputElement>('post-title');
  const title = input.value;
  const action = `post ${title}`;
  await whileBusy(submit, 'Creating…', async () => {
    try {
      const post = await api().createPost({ title }, { idempotencyKey: actionKeys.keyFor(action) });
      actionKeys.done(action);
      if (input.value === title) input.value = '';
      showError(undefined);
      navigateTo(post.id);
    } catch (error) {
      reportFailure(error, undefined, 'Your title is kept.');
    }
  });
}

// ---- recent posts and navigation ---------------------------------------------------------------------

function postIdFromHash(): string | undefined {
  const match = /^#post=(.+)$/.exec(window.location.hash);
  if (!match?.[1]) return undefined;
  try {
    return decodeURIComponent(match[1]);
  } catch {
    // A hand-edited link with malformed percent-encoding opens no post, rather than breaking the page.
    return undefined;
  }
}

/** Shows what the URL names: a post, or the empty state. */
function route(): void {
  const postId = postIdFromHash();
  if (postId !== undefined) {
    void openPost(postId);
    return;
  }
  closePost();
  showNotice(state.emptyState.heading, state.emptyState.text);
}

function navigateTo(postId: string): void {
  const hash = `#post=${encodeURIComponent(postId)}`;
  // The same hash fires no hashchange: open it again (after it was not found, or could not be read).
  if (window.location.hash === hash) route();
  else window.location.hash = hash;
}

// ---- start -------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  state.emptyState = {
    heading: $('notice-heading').textContent ?? '',
    text: ($('notice-text').textContent ?? '').replace(/\s+/g, ' ').trim(),
  };
  const userInput = $<HTMLInputElement>('user-id');
  userInput.value = localStorage.getItem(USER_KEY) ?? `user-${Math.random().toString(36).slice(2, 8)}`;
  renderRecent();
  const config = (await (await fetch('/config.json')).json()) as DemoConfig;
  state.config = config;
  state.client = new RealtimeCommentsClient({
    url: config.webSocketUrl,
    token: currentToken,
    logger: console,
  });
  state.api = new CommentsApiClient({
    url: new URL(config.apiBaseUrl || '/', window.location.href).href,
    token: currentToken,
  });
  state.client.on('state', setConnectionState);
  state.client.on('error', (error) => {
    // Connection trouble shows in the state badge; what the server refused is worth a message.
    if (!error.postId && !error.retrying) showError(`${error.code}: ${error.message}`);
  });
  const reconnectNow = (): void => {
    state.client?.reconnect();
    if (state.open?.retryWhenOnline) void openPost(state.open.id);
  };
  // Skip the rest of a backoff wait as soon as the browser is back online, or the user asks.
  window.addEventListener('online', reconnectNow);
  $('reconnect-now').addEventListener('click', reconnectNow);
  $('notice-retry').addEventListener('click', route);

  onSubmit('sign-in', () => {
    signIn(userInput.value.trim()).catch((error: unknown) => reportFailure(error, undefined));
  });
  onSubmit('create-post', (submit) => void createPost(submit));
  onSubmit('open-post', () => navigateTo($<HTMLInputElement>('post-id').value.trim()));
  onSubmit('add-comment', (submit) => void addComment(submit));
  submitOnCtrlEnter($<HTMLTextAreaElement>('comment-content'), $<HTMLFormElement>('add-comment'));
  window.addEventListener('hashchange', route);

  await signIn(userInput.value.trim()).catch((error: unknown) => reportFailure(error, undefined));
  // Without a token the connection is anonymous (refused where the stage wants one): its badge says so.
  if (state.client.state === 'idle') state.client.connect();
  route();
}

void main();
