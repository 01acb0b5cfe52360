/** How the benchmark's tables write numbers: US digit grouping, and a dash for what was not measured. */
export const fmt = (value: number | null | undefined, digits = 0): string =>
  value === null || value === undefined || Number.isNaN(value)
    ? '—'
    : value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

/** Milliseconds, with a decimal below 10. */
export const ms = (value: number | null | undefined): string =>
  value === null || value === undefined ? '—' : fmt(value, value < 10 ? 1 : 0);

/** A duration in milliseconds, as ms below a second and as seconds above. */
export const seconds = (value: number): string =>
  value < 1000 ? `${fmt(value)} ms` : `${fmt(value / 1000, 1)} s`;

export const percent = (share: number | null): string =>
  share === null ? '—' : `${fmt(share * 100, share < 0.1 ? 1 : 0)} %`;

/** Text for an SVG chart's labels. */
export const escapeXml = (text: string): string =>
  text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
