/** The results table printed at the end of a run. */
import type { Measure, ScenarioResult } from './scenario.js';

/** A number with as many decimals as its size deserves. */
function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const size = Math.abs(value);
  return value.toFixed(size >= 100 ? 0 : size >= 10 ? 1 : 2);
}

function formatValue({ value, unit }: Measure): string {
  const text =
    typeof value === 'number'
      ? formatNumber(value)
      : `p50 ${formatNumber(value.p50)} · p99 ${formatNumber(value.p99)} · max ${formatNumber(value.max)}  (min ${formatNumber(value.min)}, n ${value.n})`;
  return `${text} ${unit}`;
}

/** The measures of every scenario as an aligned text table, with a verdict per target. */
export function formatTable(results: readonly ScenarioResult[]): string {
  const rows = [['scenario', 'measure', 'value', 'target', '']];
  for (const result of results) {
    for (const measure of result.measures) {
      const verdict = measure.met === undefined ? '' : measure.met ? 'met' : 'MISSED';
      rows.push([result.name, measure.label, formatValue(measure), measure.target ?? '', verdict]);
    }
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]): string =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((width) => '─'.repeat(width)).join('  '), ...rows.slice(1).map(line)].join('\n');
}
