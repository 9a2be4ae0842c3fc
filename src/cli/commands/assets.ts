import type { Command } from 'commander';

// TODO: implement the `assets` command.
export function registerAssets(_program: Command): void {}
