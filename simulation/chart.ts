import { escapeXml } from '../bench/format';
import type { SimulationReport } from './report';

const COLORS = ['#1c7ed6', '#e8590c', '#2f9e44', '#7048e8', '#c2255c', '#0c8599', '#f59f00', '#495057'];

const secondsLabel = (s: number): string => (s < 1 ? `${s * 1000} ms` : `${s} s`);

/** Share of each AWS scenario's audience delivered over time (log time axis). */
function deliveryPanel(
  report: SimulationReport,
  x: number,
  y: number,
  width: number,
  height: number,
): string[] {
  const left = x + 50;
  const right = x + width - 10;
  const top = y + 40;
  const bottom = y + height - 110;
  const runs = report.scenarios.filter(
    (s) => (s.group === 'single post' || s.group === 'many posts') && s.curve.cumulative.length > 0,
  );
  const maxSeconds = Math.max(1, ...runs.map((s) => (s.timing.lastDeliveryMs ?? 0) / 1000));
  const low = -1;
  const high = Math.ceil(Math.log10(maxSeconds));
  const sx = (seconds: number): number =>
    left + ((Math.log10(Math.max(seconds, 10 ** low)) - low) / (high - low)) * (right - left);
  const sy = (share: number): number => bottom - share * (bottom - top);
  const out = [
    `<text x="${x + width / 2}" y="${y + 20}" text-anchor="middle" font-size="14" font-weight="600">Share of the audience delivered, from the commit (AWS model)</text>`,
  ];
  for (let e = low; e <= high; e += 1) {
    const tx = sx(10 ** e);
    out.push(
      `<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${top}" y2="${bottom}" stroke="#e9ecef"/>`,
      `<text x="${tx.toFixed(1)}" y="${bottom + 16}" text-anchor="middle" font-size="11" fill="#495057">${secondsLabel(10 ** e)}</text>`,
    );
  }
  for (const share of [0, 0.25, 0.5, 0.75, 1]) {
    out.push(
      `<line x1="${left}" x2="${right}" y1="${sy(share).toFixed(1)}" y2="${sy(share).toFixed(1)}" stroke="#e9ecef"/>`,
      `<text x="${left - 6}" y="${(sy(share) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#495057">${share * 100} %</text>`,
    );
  }
  if (report.target) {
    const tx = sx(report.target.limitMs / 1000);
    out.push(
      `<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${top}" y2="${bottom}" stroke="#c92a2a" stroke-dasharray="6 4"/>`,
      `<text x="${(tx + 4).toFixed(1)}" y="${top + 12}" font-size="11" fill="#c92a2a">100,000-subscriber target: ${(report.target.limitMs / 1000).toFixed(1)} s</text>`,
    );
  }
  runs.forEach((run, i) => {
    const color = COLORS[i % COLORS.length] as string;
    const total = run.workload.addressed;
    const points = run.curve.cumulative.map(
      (count, bin) =>
        `${sx(((bin + 1) * run.curve.binMs) / 1000).toFixed(1)},${sy(count / total).toFixed(1)}`,
    );
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.join(' ')}"><title>${escapeXml(run.label)}</title></polyline>`,
    );
    const lx = left;
    const ly = bottom + 36 + i * 16;
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="12" height="4" fill="${color}"/>`,
      `<text x="${lx + 16}" y="${ly - 4}" font-size="11">${escapeXml(`${run.label}: ${((run.timing.lastDeliveryMs ?? 0) / 1000).toFixed(1)} s`)}</text>`,
    );
  });
  return out;
}

/** The local stack: measured against simulated time to the last delivery. */
function localPanel(report: SimulationReport, x: number, y: number, width: number, height: number): string[] {
  const rows = report.localComparison;
  const left = x + 50;
  const right = x + width - 10;
  const top = y + 40;
  const bottom = y + height - 110;
  const max = Math.max(1, ...rows.flatMap((r) => [r.measuredLastMs, r.simulatedLastMs ?? 0])) * 1.15;
  const sy = (ms: number): number => bottom - (ms / max) * (bottom - top);
  const out = [
    `<text x="${x + width / 2}" y="${y + 20}" text-anchor="middle" font-size="14" font-weight="600">Local stack: measured vs simulated last delivery</text>`,
    `<line x1="${left}" x2="${right}" y1="${bottom}" y2="${bottom}" stroke="#495057"/>`,
  ];
  const group = (right - left) / Math.max(1, rows.length);
  rows.forEach((row, g) => {
    const bars: [string, number | null, string][] = [
      ['measured (bench)', row.measuredLastMs, '#868e96'],
      ['simulated', row.simulatedLastMs, '#e8590c'],
    ];
    bars.forEach(([name, value, color], i) => {
      if (value === null) return;
      const bx = left + g * group + group / 2 - 40 + i * 42;
      out.push(
        `<rect x="${bx}" y="${sy(value).toFixed(1)}" width="38" height="${(bottom - sy(value)).toFixed(1)}" fill="${color}"><title>${escapeXml(name)}</title></rect>`,
        `<text x="${bx + 19}" y="${(sy(value) - 4).toFixed(1)}" text-anchor="middle" font-size="10">${(value / 1000).toFixed(2)} s</text>`,
      );
    });
    const error =
      row.error === null ? '' : ` (${row.error >= 0 ? '+' : '−'}${Math.abs(row.error * 100).toFixed(0)} %)`;
    out.push(
      `<text x="${(left + g * group + group / 2).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" font-size="12">${row.clients.toLocaleString('en-US')} clients${error}</text>`,
    );
  });
  out.push(
    `<rect x="${left}" y="${bottom + 30}" width="10" height="10" fill="#868e96"/><text x="${left + 14}" y="${bottom + 39}" font-size="11">measured: last client received (bench/results/latest.json)</text>`,
    `<rect x="${left}" y="${bottom + 48}" width="10" height="10" fill="#e8590c"/><text x="${left + 14}" y="${bottom + 57}" font-size="11">simulated: local stack model with the bench's ceiling</text>`,
  );
  return out;
}

export function toSvg(report: SimulationReport): string {
  const width = 1200;
  const height = 460;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', sans-serif">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="10" y="18" font-size="12" fill="#495057">${escapeXml(`Realtime comments, fan-out simulation (npm run simulate), seed ${report.seed}, ${report.generatedAt.slice(0, 10)}`)}</text>`,
    ...deliveryPanel(report, 0, 20, 760, height - 20),
    ...localPanel(report, 760, 20, 440, height - 20),
    '</svg>',
    '',
  ].join('\n');
}
