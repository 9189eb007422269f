// The one number format of the page (tables, chart axes, the day view's differing cells): significant
// digits, so a small value is never shown as 0 and realtime and batch never look equal when they differ
// in their first `digits` digits; exponent notation beyond [1e-4, 1e15), so a huge value stays short.
// Pure (no DOM): test/unit/dashboard-numbers.test.ts runs it under Node.

const SMALL = 1e-4;
const LARGE = 1e15;
const formatters = new Map();

function positional(fractionDigits) {
  let f = formatters.get(fractionDigits);
  if (!f) formatters.set(fractionDigits, (f = new Intl.NumberFormat('en-US', { maximumFractionDigits: fractionDigits })));
  return f;
}

/** `m.mmmmme±x` of toExponential as `m.mmmmmex` (no `+`, no trailing zeros): 2.8e301, -5e-7. */
function exponent(v, digits) {
  const [mantissa, exp] = v.toExponential(digits - 1).split('e');
  const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
  return `${m}e${exp.replace(/^\+/, '')}`;
}

/**
 * A number as the page shows it: `digits` significant digits (at least 2 decimals kept for values of 1
 * and more: 12,345.68), grouped thousands; exponent notation below 1e-4 and from 1e15 on; 0 and -0 as
 * `0`, and a non-zero value never as 0. null/undefined: `–`; anything else: as text.
 */
export function formatNumber(v, digits = 6) {
  if (v === null || v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  if (Number.isNaN(v)) return 'NaN';
  if (!Number.isFinite(v)) return v > 0 ? '∞' : '-∞';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a < SMALL || a >= LARGE) return exponent(v, digits);
  const magnitude = Math.floor(Math.log10(a)); // 0 for 1..9.99, -1 for 0.1..0.999, ...
  const fraction = magnitude >= 0 ? Math.max(2, digits - 1 - magnitude) : digits - 1 - magnitude;
  const text = positional(Math.min(20, fraction)).format(v);
  // Rounding can carry into the exponent range's edge (999,999,999,999,999.9 -> 1,000,000,000,000,000).
  return Math.abs(Number(text.replaceAll(',', ''))) >= LARGE ? exponent(v, digits) : text;
}

/** A ratio as a percentage, 3 significant digits: 1.23%, 0.5%, 2e-5%. */
export function formatPercent(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  return `${formatNumber(100 * v, 3)}%`;
}
