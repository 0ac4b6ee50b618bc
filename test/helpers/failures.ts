// Vitest setup file: when a test fails, print what the servers of its file logged last (they log to memory, see
// startTestServer), so that a failure seen only in CI comes with the server's side of the story.
import { afterEach } from 'vitest';
import { recentServerLogs } from './server.js';

afterEach(({ task }) => {
  if (task.result?.state === 'fail') {
    const logs = recentServerLogs();
    if (logs) console.error(`\n${logs}`);
  }
});
