/** The CLI proper; loaded by main.ts once the V8 flags are set. */
import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/index.js';
import { ConfigFileError } from '../declarative/load-dir.js';
import { DetectionConfigError } from '../detect/config-file.js';
import { registerApply } from './apply.js';
import { registerAudit } from './audit.js';
import { registerEvidence } from './evidence.js';
import { registerReport } from './report.js';
import { ApiError } from './http-client.js';
import { registerServe } from './serve.js';
import { registerToken } from './token.js';
import { registerAdminCommands } from './admin-commands.js';
import { registerSimulate } from './simulate.js';
import { registerLegacy } from './legacy.js';
import { registerExec } from './exec.js';
import { registerMcp } from './mcp.js';

const program = new Command('tether')
  .description('Tether: runtime access broker for non-human identities')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

registerServe(program);
registerApply(program);
registerAudit(program);
registerReport(program);
registerEvidence(program);
registerToken(program);
registerAdminCommands(program);
registerSimulate(program);
registerLegacy(program);
registerExec(program);
registerMcp(program);

/** Expected failures print one clear line (exit 2); nothing prints a stack trace at a user. */
try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  if (e instanceof ConfigError || e instanceof ConfigFileError || e instanceof DetectionConfigError || e instanceof ApiError) {
    process.stderr.write(`tether: ${e.message}\n`);
  } else {
    process.stderr.write(`tether: ${(e as Error)?.message ?? String(e)}\n`);
  }
  process.exit(2);
}
