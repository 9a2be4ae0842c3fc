import type { Command } from 'commander';

// TODO: implement the `doctor` command.
export function registerDoctor(_program: Command): void {}
