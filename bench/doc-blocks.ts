/**
 * Generated blocks inside hand-written docs: `<!-- <prefix>:NAME -->…<!-- /<prefix>:NAME -->`. The
 * benchmark and the capacity simulation write their latest figures into docs/ this way, so that a figure
 * quoted there is the results file's, never one retyped from another run.
 */
export function spliceBlocks(document: string, prefix: string, blocks: Record<string, string>): string {
  let out = document;
  for (const [name, content] of Object.entries(blocks)) {
    const open = `<!-- ${prefix}:${name} -->`;
    const close = `<!-- /${prefix}:${name} -->`;
    const start = out.indexOf(open);
    const end = out.indexOf(close);
    if (start < 0 || end < start) continue;
    out = `${out.slice(0, start + open.length)}\n\n${content.trim()}\n\n${out.slice(end)}`;
  }
  return out;
}
