import type { Post } from '@realtime-comments/client';
import { $, element } from './dom';

/** The posts this browser opened last, newest first, kept in localStorage and listed as links. */
const RECENT_KEY = 'realtime-comments.recentPosts';
const KEPT = 10;

type RecentPost = Pick<Post, 'id' | 'title'>;

function loadRecent(): RecentPost[] {
  try {
    const parsed: unknown = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(parsed) ? (parsed as RecentPost[]) : [];
  } catch {
    return [];
  }
}

function saveRecent(recent: RecentPost[]): void {
  localStorage.setItem(RECENT_KEY, JSON.stringify(recent.slice(0, KEPT)));
  renderRecent();
}

export function rememberPost(post: RecentPost): void {
  saveRecent([{ id: post.id, title: post.title }, ...loadRecent().filter((p) => p.id !== post.id)]);
}

export function forgetPost(postId: string): void {
  saveRecent(loadRecent().filter((p) => p.id !== postId));
}

export function renderRecent(): void {
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
