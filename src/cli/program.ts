import { createRequire } from 'node:module';
import { Command } from 'commander';
import { registerArtifact } from './commands/artifact.js';
import { registerAsset } from './commands/asset.js';
import { registerAssets } from './commands/assets.js';
import { registerCatalog } from './commands/catalog.js';
import { registerCollection } from './commands/collection.js';
import { registerDoctor } from './commands/doctor.js';
import { registerGc } from './commands/gc.js';
import { registerInit } from './commands/init.js';
import { registerRun } from './commands/run.js';
import { registerServe } from './commands/serve.js';
import { registerSource } from './commands/source.js';
import { registerVerifyReadonly } from './commands/verify-readonly.js';
import { registerWorker } from './commands/worker.js';

/** The installed package's version: dist/cli/program.js and src/cli/program.ts both sit two levels down. */
function packageVersion(): string {
  return (createRequire(import.meta.url)('../../package.json') as { version: string }).version;
}

export function buildProgram(): Command {
  const program = new Command('archivist')
    .description(
      'Catalog a photo and video archive read-only, process it with versioned pipelines, keep lineage.',
    )
    .option('--home <dir>', 'the Archivist home (default: $ARCHIVIST_HOME, else the user data directory)')
    .option('--json', 'print one JSON document on stdout')
    .version(packageVersion(), '-V, --version', 'print the version of Archivist')
    // Every subcommand's --help lists --home and --json too: they are where a user looks.
    .configureHelp({ showGlobalOptions: true })
    .showHelpAfterError()
    .exitOverride();
  registerInit(program);
  registerSource(program);
  registerCatalog(program);
  registerAssets(program);
  registerAsset(program);
  registerCollection(program);
  registerRun(program);
  registerArtifact(program);
  registerWorker(program);
  registerGc(program);
  registerVerifyReadonly(program);
  registerDoctor(program);
  registerServe(program);
  return program;
}
