/** Summary statistics of the benchmark samples. */
import type { RecordableHistogram } from 'node:perf_hooks';

/** The usual figures of a sample set (same unit as the samples). */
export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly mean: number;
}

/** The `p`-th percentile (0–100) by the nearest-rank method: always one of the samples. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** Summarizes `samples` (in any order). */
export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length > 0 ? sum / sorted.length : Number.NaN,
  };
}

/** Summarizes a histogram of whole numbers, each `scale` times the unit of the summary (1000 for µs recorded, ms summarized). */
export function summarizeHistogram(histogram: RecordableHistogram, scale: number): Summary {
  if (histogram.count === 0) return summarize([]);
  return {
    n: histogram.count,
    min: histogram.min / scale,
    p50: histogram.percentile(50) / scale,
    p99: histogram.percentile(99) / scale,
    max: histogram.max / scale,
    mean: histogram.mean / scale,
  };
}
