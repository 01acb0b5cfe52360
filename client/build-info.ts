/**
 * The package's version, set by its build (scripts/bundle.ts); `'source'` when this module runs from the
 * TypeScript sources, as in this repository's tests. Lets an application, or a test, tell which build of
 * the SDK it loaded.
 */
declare const __REALTIME_COMMENTS_CLIENT_VERSION__: string | undefined;

export const CLIENT_VERSION: string =
  typeof __REALTIME_COMMENTS_CLIENT_VERSION__ === 'string' ? __REALTIME_COMMENTS_CLIENT_VERSION__ : 'source';
