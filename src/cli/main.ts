#!/usr/bin/env node
import { CommanderError } from 'commander';
import { registerBuiltinPipelines } from '../pipeline/builtin.js';
import { loadExtraPipelines } from '../pipeline/registry.js';
import { buildProgram } from './program.js';
import { reportError } from './output.js';

async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    registerBuiltinPipelines();
    await loadExtraPipelines();
    await program.parseAsync(argv);
    // A command with a verdict (differences found, a run that ended with failures) sets process.exitCode.
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not failures; everything else commander refuses is bad usage.
      if (
        error.code === 'commander.helpDisplayed' ||
        error.code === 'commander.version' ||
        error.code === 'commander.help'
      )
        return 0;
      return 2;
    }
    return reportError(error, argv.includes('--json'));
  }
}

process.exitCode = await main(process.argv);
