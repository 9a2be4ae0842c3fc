import type { Command } from 'commander';
import { registerRunCompare } from './run-compare.js';
import { registerRunPromote } from './run-promote.js';
import { registerRunStart } from './run-start.js';
import { registerRunView } from './run-view.js';

export function registerRun(program: Command): void {
  const run = program
    .command('run')
    .description('versioned pipeline runs: start, watch, cancel, resume, retry, compare, promote');
  registerRunStart(run);
  registerRunView(run);
  registerRunCompare(run);
  registerRunPromote(run);
}
