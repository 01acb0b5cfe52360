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
  CommentsApiError,
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

const $ = <T extends HTMLElement>(id: string): T => {
  const element = document.getElementById(id);
  if (!element) throw new Error(`#${id} missing from the page`);
  return element as T;
};

const USER_KEY = 'realtime-comments.userId';
const RECENT_KEY = 'realtime-comments.recentPosts';
const DELETED = 'deleted';

const state = {
  config: undefined as DemoConfig | undefined,
  client: undefined as RealtimeCommentsClient | undefined,
  api: undefined as CommentsApiClient | undefined,
  token: undefined as string | undefined,
  /** The user id the token was issued for: the comments' userId, as verified by the API. */
  signedInAs: undefined as string | undefined,
  open: undefined as OpenPost | undefined,
  /** The id of the comment being edited in place. */
  editing: undefined as string | undefined,
  /** Own edits and deletions the view has not caught up with yet (it does within ms when live). */
  written: new Map<string, Comment | typeof DELETED>(),
  /** Unsent comment text of posts no longer open, so switching posts loses nothing. */
  drafts: new Map<string, string>(),
  /**
   * Idempotency keys of writes that have not succeeded, by what they write: sending the same text again
   * after a failure is the same action, so if the first attempt was stored and only its answer was lost,
   * the server answers with that comment instead of storing a second one.
   */
  actionKeys: new Map<string, string>(),
  /** What the error box says is that the server is unreachable: cleared once the connection is back. */
  unreachableShown: false,
  emptyState: { heading: '', text: '' },
};

// ---- failures ----------------------------------------------------------------------------------------

type Failure = { kind: 'unreachable' | 'post-gone' | 'comment-gone' | 'other'; message: string };

function describeFailure(error: unknown): Failure {
  if (!(error instanceof CommentsApiError)) {
    return { kind: 'other', message: error instanceof Error ? error.message : String(error) };
  }
  if (error.details.failure === 'network') {
    return { kind: 'unreachable', message: 'The server is unreachable: it may be stopped or restarting.' };
  }
  if (error.details.failure === 'timeout') {
    return { kind: 'unreachable', message: 'The server did not answer in time.' };
  }
  if (error.status === 404) {
    return error.detail === 'Comment not found'
      ? { kind: 'comment-gone', message: 'That comment no longer exists.' }
      : { kind: 'post-gone', message: 'This post no longer exists.' };
  }
  if (error.status === 401)
    return { kind: 'other', message: 'Your sign-in was not accepted: sign in again.' };
  return { kind: 'other', message: error.detail ?? error.message };
}

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

/** The page's one raw request: the dev token route is no part of the comments API. */
async function requestToken(userId: string): Promise<string> {
  const url = state.config?.tokenUrl ?? '';
  const request = { method: 'POST', headers: { 'content-type': 'application/json' } };
  let response: Response;
  try {
    response = await fetch(url, { ...request, body: JSON.stringify({ userId }) });
  } catch (cause) {
    // Said like the comments API's own network failures, so the page words it the same way.
    throw new CommentsApiError(`POST ${url}: ${String(cause)}`, { failure: 'network', attempts: 1, cause });
  }
  const payload = (await response.json().catch(() => ({}))) as { token?: string; detail?: string };
  if (!response.ok || !payload.token)
    throw new Error(payload.detail ?? `Sign-in failed with ${response.status}`);
  return payload.token;
}

/** Both clients ask for the token before each connection or write; a refused one is issued again. */
async function currentToken({ refresh }: TokenRequest): Promise<string> {
  if (refresh && state.signedInAs) state.token = await requestToken(state.signedInAs);
  return state.token ?? '';
}

async function signIn(userId: string): Promise<void> {
  state.token = await requestToken(userId);
  state.signedInAs = userId;
  localStorage.setItem(USER_KEY, userId);
  $('signed-in-as').textContent = userId;
  // A new connection with the new token takes over from the old one, which closes once it is replaced.
  if (client().state === 'idle') client().connect();
  else client().reconnect();
  state.editing = undefined;
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
  state.editing = undefined;
  state.written.clear();
  $('comments').replaceChildren();
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

const versionOf = (comment: Comment): string => comment.updatedAt ?? comment.createdAt;

/** The open post's view, with own edits and deletions it has not caught up with yet. */
function visibleComments(postId: string): Comment[] {
  const shown: Comment[] = [];
  const inView = new Set<string>();
  for (const comment of client().comments(postId)) {
    inView.add(comment.id);
    const written = state.written.get(comment.id);
    if (written === DELETED) continue;
    if (written && versionOf(written) > versionOf(comment)) {
      shown.push(written);
      continue;
    }
    state.written.delete(comment.id);
    shown.push(comment);
  }
  // Deletions the view has caught up with, and edits of comments deleted since: nothing left to cover.
  for (const id of state.written.keys()) if (!inView.has(id)) state.written.delete(id);
  return shown;
}

/** What an item shows: it is built again when this changes. */
const itemKey = (comment: Comment): string =>
  `${versionOf(comment)} ${comment.userId === state.signedInAs ? 'own' : 'other'}`;

function renderComments(): void {
  const open = state.open;
  if (!open?.post) return;
  const comments = visibleComments(open.id);
  if (state.editing && !comments.some((comment) => comment.id === state.editing)) state.editing = undefined;
  const list = $('comments');
  const current = new Map<string, HTMLElement>();
  for (const item of Array.from(list.querySelectorAll<HTMLElement>(':scope > li'))) {
    current.set(item.dataset.commentId ?? '', item);
  }
  const items = comments.map((comment) => {
    const item = current.get(comment.id);
    // The item being edited stays as it is, so its editor keeps its text, caret and focus.
    return item && (item.dataset.key === itemKey(comment) || comment.id === state.editing)
      ? item
      : renderComment(comment);
  });
  const kept = new Set(items);
  for (const item of current.values()) if (!kept.has(item)) item.remove();
  // Only items out of place are moved: moving the one being edited would take the focus from its editor.
  items.forEach((item, index) => {
    if (list.children[index] !== item) list.insertBefore(item, list.children[index] ?? null);
  });
  const empty = $('no-comments');
  empty.hidden = comments.length > 0;
  empty.textContent =
    client().postState(open.id) === 'live' ? 'No comments yet: write the first.' : 'Loading comments…';
}

function element<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  className: string,
  text = '',
): HTMLElementTagNameMap[K] {
  const created = document.createElement(tag);
  created.className = className;
  created.textContent = text;
  return created;
}

function button(label: string, onClick?: (button: HTMLButtonElement) => void): HTMLButtonElement {
  const created = element('button', '', label);
  created.type = 'button';
  if (onClick) created.addEventListener('click', () => onClick(created));
  return created;
}

function renderComment(comment: Comment): HTMLLIElement {
  const item = element('li', '');
  item.dataset.commentId = comment.id;
  item.dataset.key = itemKey(comment);
  const edited = comment.updatedAt ? ' · edited' : '';
  item.append(
    element('div', 'meta', `${comment.userId} · ${new Date(comment.createdAt).toLocaleString()}${edited}`),
    element('p', 'content', comment.content),
  );
  if (comment.userId === state.signedInAs) {
    const actions = element('div', 'actions');
    actions.append(
      button('Edit', () => startEditing(comment)),
      button('Delete', (deleteButton) => void deleteComment(comment, deleteButton)),
    );
    item.append(actions);
  }
  return item;
}

/** Replaces the comment's text with an editor: Ctrl+Enter (⌘+Enter) saves, Escape cancels. */
function startEditing(comment: Comment): void {
  stopEditing();
  // Closing another editor re-rendered the list: take the comment's item as it is now.
  const item = commentItem(comment.id);
  if (!item) return;
  state.editing = comment.id;
  item.dataset.key = 'editing';
  const form = element('form', 'edit-form');
  const textarea = element('textarea', '');
  textarea.value = comment.content;
  textarea.required = true;
  textarea.maxLength = 2000;
  textarea.rows = Math.min(8, Math.max(3, comment.content.split('\n').length + 1));
  textarea.setAttribute('aria-label', 'Edit comment');
  const save = button('Save');
  save.type = 'submit';
  const actions = element('div', 'actions');
  actions.append(
    save,
    button('Cancel', stopEditing),
    element('span', 'muted', 'Ctrl+Enter saves, Esc cancels'),
  );
  form.append(textarea, actions);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    void saveEdit(comment, textarea.value, save);
  });
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') {
      event.preventDefault();
      stopEditing();
    }
  });
  submitOnCtrlEnter(textarea, form);
  item.querySelector('.content')?.replaceWith(form);
  item.querySelector(':scope > .actions')?.remove();
  textarea.focus();
  textarea.setSelectionRange(textarea.value.length, textarea.value.length);
}

function stopEditing(): void {
  const id = state.editing;
  if (id === undefined) return;
  state.editing = undefined;
  renderComments();
  // Back to where the keyboard was: the comment's Edit button.
  commentItem(id)?.querySelector<HTMLButtonElement>('.actions button')?.focus();
}

function commentItem(commentId: string): HTMLElement | undefined {
  return Array.from($('comments').children).find(
    (item): item is HTMLElement => item instanceof HTMLElement && item.dataset.commentId === commentId,
  );
}

function submitOnCtrlEnter(textarea: HTMLTextAreaElement, form: HTMLFormElement): void {
  textarea.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
}

/** Disables the button and says so while the action (and the SDK's retries of it) runs. */
async function whileBusy(
  target: HTMLButtonElement,
  busyLabel: string,
  action: () => Promise<void>,
): Promise<void> {
  const label = target.textContent;
  target.disabled = true;
  target.textContent = busyLabel;
  try {
    await action();
  } finally {
    target.disabled = false;
    target.textContent = label;
  }
}

function saveEdit(comment: Comment, content: string, save: HTMLButtonElement): Promise<void> {
  if (content === comment.content) {
    stopEditing();
    return Promise.resolve();
  }
  return whileBusy(save, 'Saving…', async () => {
    try {
      const updated = await api().editComment(comment.postId, comment.id, content);
      state.written.set(updated.id, updated);
      if (state.editing === comment.id) stopEditing();
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
      state.written.set(comment.id, DELETED);
      renderComments();
      showError(undefined);
    } catch (error) {
      reportFailure(error, comment.postId);
    }
  });
}

/** One key per action, made once and reused until it succeeds (see state.actionKeys). */
function actionKey(action: string): string {
  let key = state.actionKeys.get(action);
  if (!key) {
    // randomUUID needs a secure context: http://localhost is one, a LAN address is not.
    key =
      typeof crypto.randomUUID === 'function'
        ? crypto.randomUUID()
        : Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join(
            '',
          );
    state.actionKeys.set(action, key);
  }
  return key;
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
      await api().createComment(postId, content, { idempotencyKey: actionKey(action) });
      state.actionKeys.delete(action);
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
      const post = await api().createPost({ title }, { idempotencyKey: actionKey(action) });
      state.actionKeys.delete(action);
      if (input.value === title) input.value = '';
      showError(undefined);
      navigateTo(post.id);
    } catch (error) {
      reportFailure(error, undefined, 'Your title is kept.');
    }
  });
}

// ---- recent posts and navigation ---------------------------------------------------------------------

function loadRecent(): Pick<Post, 'id' | 'title'>[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(parsed) ? (parsed as Pick<Post, 'id' | 'title'>[]) : [];
  } catch {
    return [];
  }
}

function saveRecent(recent: Pick<Post, 'id' | 'title'>[]): void {
  localStorage.setItem(RECENT_KEY, JSON.stringify(recent.slice(0, 10)));
  renderRecent();
}

function rememberPost(post: Pick<Post, 'id' | 'title'>): void {
  saveRecent([{ id: post.id, title: post.title }, ...loadRecent().filter((p) => p.id !== post.id)]);
}

function forgetPost(postId: string): void {
  saveRecent(loadRecent().filter((p) => p.id !== postId));
}

function renderRecent(): void {
  const recent = loadRecent();
  $('recent-posts').replaceChildren(
    ...recent.map((post) => {
      const item = element('li', '');
      const link = element('a', '', post.title);
      link.href = `#post=${encodeURIComponent(post.id)}`;
      item.append(link);
      return item;
    }),
  );
  if (recent.length === 0) $('recent-posts').append(element('li', 'muted', 'None yet.'));
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

function onSubmit(formId: string, handler: (submit: HTMLButtonElement) => void): void {
  const form = $<HTMLFormElement>(formId);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const submit = form.querySelector<HTMLButtonElement>('button[type="submit"]');
    if (submit && !submit.disabled) handler(submit);
  });
}

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
