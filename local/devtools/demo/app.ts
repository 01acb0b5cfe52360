/**
 * The local demo page: create or open a post, read and write its comments, and watch changes from other
 * tabs arrive live. The WebSocket side is the client SDK (client/): it reconnects, resubscribes with the
 * last seq it saw and orders and de-duplicates events, so this page only renders what it is handed.
 * Comment text only ever reaches the DOM through textContent.
 */
import { RealtimeCommentsClient, type CommentEvent, type ConnectionState } from '../../../client';
import type { Comment, CommentsListEvent, Post } from '../../../contracts/protocol';

interface DemoConfig {
  webSocketUrl: string;
  apiBaseUrl: string;
  /** The local stack's dev-only token route: the demo signs in through it. */
  tokenUrl: string;
}

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} missing from the page`);
  return element as T;
};

const USER_KEY = 'realtime-comments.userId';
const RECENT_KEY = 'realtime-comments.recentPosts';

const state = {
  config: undefined as DemoConfig | undefined,
  client: undefined as RealtimeCommentsClient | undefined,
  /** Ends the current post's subscription. */
  unsubscribe: undefined as (() => void) | undefined,
  token: undefined as string | undefined,
  /** The user id the token was issued for: the comments' userId, as verified by the API. */
  signedInAs: undefined as string | undefined,
  postId: undefined as string | undefined,
  comments: new Map<string, Comment>(),
};

function userId(): string | undefined {
  return state.signedInAs;
}

function showError(message: string | undefined): void {
  const box = $('error');
  box.textContent = message ?? '';
  box.hidden = !message;
}

function setConnectionState(next: ConnectionState): void {
  const badge = $('connection-state');
  badge.textContent = next;
  badge.dataset.state = next;
  badge.className = `state state-${next}`;
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const config = state.config;
  if (!config) throw new Error('Not configured yet');
  const headers: Record<string, string> = state.token ? { authorization: `Bearer ${state.token}` } : {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(`${config.apiBaseUrl}/api/v1${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (response.status === 204) return undefined as T;
  const payload = (await response.json()) as T & { detail?: string };
  if (!response.ok) throw new Error(payload.detail ?? `${method} ${path} failed with ${response.status}`);
  return payload;
}

function renderComments(): void {
  const list = $('comments');
  list.replaceChildren();
  const sorted = [...state.comments.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const comment of sorted) list.append(renderComment(comment));
  $('no-comments').hidden = sorted.length > 0;
}

function renderComment(comment: Comment): HTMLLIElement {
  const item = document.createElement('li');
  item.dataset.commentId = comment.id;
  const meta = document.createElement('div');
  meta.className = 'meta';
  meta.textContent = `${comment.userId} · ${new Date(comment.createdAt).toLocaleString()}${comment.updatedAt ? ' · edited' : ''}`;
  const content = document.createElement('p');
  content.className = 'content';
  content.textContent = comment.content;
  item.append(meta, content);
  if (comment.userId === userId()) {
    const actions = document.createElement('div');
    actions.className = 'actions';
    const edit = document.createElement('button');
    edit.type = 'button';
    edit.textContent = 'Edit';
    edit.addEventListener('click', () => void editComment(comment));
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Delete';
    remove.addEventListener('click', () => void deleteComment(comment));
    actions.append(edit, remove);
    item.append(actions);
  }
  return item;
}

async function editComment(comment: Comment): Promise<void> {
  const content = window.prompt('Edit comment', comment.content);
  if (content === null) return;
  try {
    const updated = await api<Comment>('PATCH', `/posts/${comment.postId}/comments/${comment.id}`, {
      content,
    });
    state.comments.set(updated.id, updated);
    renderComments();
    showError(undefined);
  } catch (error) {
    showError((error as Error).message);
  }
}

async function deleteComment(comment: Comment): Promise<void> {
  try {
    await api<void>('DELETE', `/posts/${comment.postId}/comments/${comment.id}`);
    state.comments.delete(comment.id);
    renderComments();
    showError(undefined);
  } catch (error) {
    showError((error as Error).message);
  }
}

async function reloadComments(postId: string): Promise<void> {
  const page = await api<{ comments: Comment[] }>('GET', `/posts/${postId}/comments?limit=100`);
  if (state.postId !== postId) return;
  state.comments = new Map(page.comments.map((c) => [c.id, c]));
  renderComments();
}

function onSnapshot(event: CommentsListEvent): void {
  if (event.data.postId !== state.postId) return;
  // A snapshot is the whole list (after a long absence the server sends one marked reset): replace.
  state.comments = new Map(event.data.comments.map((c) => [c.id, c]));
  renderComments();
}

function onCommentEvent(event: CommentEvent): void {
  if (event.data.postId !== state.postId) return;
  if (event.type === 'comment.created') {
    state.comments.set(event.data.comment.id, event.data.comment);
    renderComments();
  } else if (event.data.action === 'deleted') {
    state.comments.delete(event.data.commentId);
    renderComments();
  } else {
    // The event names the comment but carries no content: read the post's comments again.
    void reloadComments(event.data.postId);
  }
}

/** Follows the open post on the SDK's connection; the SDK resubscribes it after every reconnect. */
function follow(postId: string): void {
  state.unsubscribe?.();
  state.unsubscribe = state.client?.subscribe(postId, {
    onSnapshot,
    onEvent: onCommentEvent,
    onError: (error) => showError(`${error.code}: ${error.message}`),
  });
}

/** One client for the page's lifetime; it asks for the current token before each connection. */
function startClient(config: DemoConfig): RealtimeCommentsClient {
  const client = new RealtimeCommentsClient({
    url: config.webSocketUrl,
    token: () => Promise.resolve(state.token ?? ''),
    logger: console,
  });
  client.on('state', setConnectionState);
  client.on('error', (error) => {
    // Connection trouble shows in the state badge; what the server refused is worth a message.
    if (!error.postId && !error.retrying) showError(`${error.code}: ${error.message}`);
  });
  return client;
}

function rememberPost(post: Pick<Post, 'id' | 'title'>): void {
  const recent = loadRecent().filter((p) => p.id !== post.id);
  recent.unshift({ id: post.id, title: post.title });
  localStorage.setItem(RECENT_KEY, JSON.stringify(recent.slice(0, 10)));
  renderRecent();
}

function loadRecent(): Pick<Post, 'id' | 'title'>[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(parsed) ? (parsed as Pick<Post, 'id' | 'title'>[]) : [];
  } catch {
    return [];
  }
}

function renderRecent(): void {
  const list = $('recent-posts');
  list.replaceChildren(
    ...loadRecent().map((post) => {
      const item = document.createElement('li');
      const link = document.createElement('a');
      link.href = `#post=${encodeURIComponent(post.id)}`;
      link.textContent = post.title;
      item.append(link);
      return item;
    }),
  );
}

async function openPost(postId: string): Promise<void> {
  try {
    const post = await api<Post>('GET', `/posts/${encodeURIComponent(postId)}`);
    state.postId = post.id;
    state.comments = new Map();
    $('post-heading').textContent = post.title;
    $('current-post-id').textContent = post.id;
    $('post-panel').hidden = false;
    renderComments();
    rememberPost(post);
    follow(post.id);
    showError(undefined);
  } catch (error) {
    showError((error as Error).message);
  }
}

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

/** Gets a token for the user id from the local issuer, then (re)connects with it. */
async function signIn(id: string): Promise<void> {
  const config = state.config;
  if (!config) return;
  const response = await fetch(config.tokenUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId: id }),
  });
  const payload = (await response.json()) as { token?: string; detail?: string };
  if (!response.ok || !payload.token)
    throw new Error(payload.detail ?? `sign-in failed with ${response.status}`);
  state.token = payload.token;
  state.signedInAs = id;
  localStorage.setItem(USER_KEY, id);
  $('signed-in-as').textContent = id;
  // A new connection with the new token takes over from the old one, which closes once it is replaced.
  if (state.client?.state === 'idle') state.client.connect();
  else state.client?.reconnect();
  renderComments();
}

async function main(): Promise<void> {
  const userInput = $<HTMLInputElement>('user-id');
  userInput.value = localStorage.getItem(USER_KEY) ?? `user-${Math.random().toString(36).slice(2, 8)}`;
  state.config = (await (await fetch('/config.json')).json()) as DemoConfig;
  state.client = startClient(state.config);
  // Skip the rest of a backoff wait as soon as the browser is back online.
  window.addEventListener('online', () => state.client?.reconnect());
  $('sign-in').addEventListener('submit', (event) => {
    event.preventDefault();
    signIn(userInput.value.trim()).catch((error: Error) => showError(error.message));
  });
  renderRecent();
  await signIn(userInput.value.trim()).catch((error: Error) => showError(error.message));

  $('create-post').addEventListener('submit', (event) => {
    event.preventDefault();
    const title = $<HTMLInputElement>('post-title');
    api<Post>('POST', '/posts', { title: title.value })
      .then((post) => {
        title.value = '';
        window.location.hash = `post=${encodeURIComponent(post.id)}`;
      })
      .catch((error: Error) => showError(error.message));
  });
  $('open-post').addEventListener('submit', (event) => {
    event.preventDefault();
    window.location.hash = `post=${encodeURIComponent($<HTMLInputElement>('post-id').value.trim())}`;
  });
  $('add-comment').addEventListener('submit', (event) => {
    event.preventDefault();
    const textarea = $<HTMLTextAreaElement>('comment-content');
    const postId = state.postId;
    if (!postId) return;
    api<Comment>('POST', `/posts/${postId}/comments`, { content: textarea.value })
      .then((comment) => {
        textarea.value = '';
        state.comments.set(comment.id, comment);
        renderComments();
        showError(undefined);
      })
      .catch((error: Error) => showError(error.message));
  });
  window.addEventListener('hashchange', () => {
    const postId = postIdFromHash();
    if (postId) void openPost(postId);
  });
  const initial = postIdFromHash();
  if (initial) await openPost(initial);
}

void main();
