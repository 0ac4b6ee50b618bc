// The CLI entry (`npm start`): configuration from file/env/flags, the server, and a clean exit on SIGINT/SIGTERM.
import { ConfigError, configFromCommandLine } from './config/config.js';
import { createLogger, startServer } from './server.js';

async function main(): Promise<void> {
  let config;
  try {
    config = configFromCommandLine(process.argv.slice(2), process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`whipcast: ${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  const logger = createLogger(config);
  const server = await startServer(config, logger);
  const stop = (signal: string): void => {
    logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) {
    // e.g. an unreadable http.tls certificate, found when the server starts
    process.stderr.write(`whipcast: ${error.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`whipcast: failed to start: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
