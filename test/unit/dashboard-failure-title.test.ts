import { describe, expect, it } from 'vitest';
// @ts-expect-error the dashboard's modules are plain browser JavaScript (serve/dashboard/), without types
import { ApiError, failureTitle } from '../../serve/dashboard/api.js';

// The dashboard's heading for a read that failed: an API that answered with an error status did answer
// (a 500 of /api/days was headed "The API does not answer", sending users to look for a server that runs).
describe('dashboard: how a failed read is headed', () => {
  it('an error status is an answer, named by its status', () => {
    expect(failureTitle(new ApiError(500, { error: 'the store could not answer' }))).toBe('The API answered with an error (HTTP 500)');
    expect(failureTitle(new ApiError(404, {}))).toBe('The API answered with an error (HTTP 404)');
  });

  it('a failed fetch (server gone, network) is no answer', () => {
    expect(failureTitle(new TypeError('Failed to fetch'))).toBe('The API does not answer');
  });
});
