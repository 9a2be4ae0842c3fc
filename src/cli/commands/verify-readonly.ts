import type { Command } from 'commander';

// TODO: implement the `verify-readonly` command.
export function registerVerifyReadonly(_program: Command): void {}
