import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard's modules are plain browser JavaScript (serve/dashboard/), without types
import { formatNumber, formatPercent } from '../../serve/dashboard/numbers.js';
// @ts-expect-error as above
import { unitOf } from '../../serve/dashboard/charts.js';

// The dashboard's one number format (tables, the chart's y axis, the day view's differing cells).
describe('the dashboard number format', () => {
  it('never shows a non-zero value as 0, and -0 as 0', () => {
    expect(formatNumber(0)).toBe('0');
    expect(formatNumber(-0)).toBe('0');
    expect(formatNumber(0.000123)).toBe('0.000123');
    expect(formatNumber(-5e-7)).toBe('-5e-7');
    expect(formatNumber(1e-300)).toBe('1e-300');
    expect(formatNumber(0.004)).toBe('0.004');
    expect(formatNumber(-0.05)).toBe('-0.05');
    for (const v of [1e-320, 5e-324, -3.3e-9, 0.00009999, 0.00012345678, 0.5, 1.0000001]) {
      expect(formatNumber(v), String(v)).not.toMatch(/^-?0$/);
      expect(Number(formatNumber(v).replaceAll(',', ''))).not.toBe(0);
    }
  });

  it('keeps significant digits, so values that differ early look different', () => {
    expect(formatNumber(1.23456789)).toBe('1.23457');
    expect(formatNumber(0.00012345678)).toBe('0.000123457');
    expect(formatNumber(1.001)).not.toBe(formatNumber(1.002));
    expect(formatNumber(0.000123)).not.toBe(formatNumber(0.000124));
    expect(formatNumber(12345.678)).toBe('12,345.68');
    expect(formatNumber(24541.469999999998)).toBe('24,541.47');
    expect(formatNumber(0.1 + 0.2)).toBe('0.3');
    expect(formatNumber(250)).toBe('250');
    expect(formatNumber(99999999.99)).toBe('99,999,999.99');
    expect(formatNumber(123456789012345.678)).toBe('123,456,789,012,345.67');
  });

  it('writes huge and tiny values with an exponent, short', () => {
    expect(formatNumber(2.8e301)).toBe('2.8e301');
    expect(formatNumber(-2.8000000000000013e301)).toBe('-2.8e301');
    expect(formatNumber(1e15)).toBe('1e15');
    expect(formatNumber(Number.MAX_VALUE)).toBe('1.79769e308');
    for (const v of [2.8e301, 1e300, 5e-7, 1e-300, 123456789e20]) expect(formatNumber(v).length, String(v)).toBeLessThanOrEqual(12);
  });

  it('says what is not a number', () => {
    expect(formatNumber(null)).toBe('–');
    expect(formatNumber(undefined)).toBe('–');
    expect(formatNumber('12.30')).toBe('12.30');
    expect(formatNumber(Number.NaN)).toBe('NaN');
    expect(formatNumber(Infinity)).toBe('∞');
    expect(formatNumber(-Infinity)).toBe('-∞');
  });

  it('percentages: 3 significant digits, a small rate not shown as 0%', () => {
    expect(formatPercent(0.0123)).toBe('1.23%');
    expect(formatPercent(0.38356)).toBe('38.36%');
    expect(formatPercent(0)).toBe('0%');
    expect(formatPercent(2e-7)).toBe('2e-5%');
    expect(formatPercent(null)).toBe('–');
  });

  it('charts: values beyond what uPlot can label are drawn divided by a power of ten', () => {
    expect(unitOf([[1, 2, null], [5]])).toBe(1);
    expect(unitOf([[0, 0.000123, -5e-7]])).toBe(1);
    expect(unitOf([[2.8e301, 1e300, null]])).toBe(1e301);
    expect(unitOf([[1e-300, -3e-299]])).toBe(1e-299);
    expect(unitOf([[null], []])).toBe(1);
  });
});
