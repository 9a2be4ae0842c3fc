import type { Command } from 'commander';

// TODO: implement the `asset` command.
export function registerAsset(_program: Command): void {}
