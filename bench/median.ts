/** The median of `xs` (the upper one of an even count); `xs` is not changed. */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/** The `p`th percentile (0–100) of `sorted` (ascending): the sample at that rank; NaN when there is none. */
export const percentile = (sorted: readonly number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] ?? NaN;
