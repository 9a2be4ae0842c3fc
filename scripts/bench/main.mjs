#!/usr/bin/env node
import process from 'node:process';
const argv = process.argv.slice(2);
try {
  if (argv.includes('--scale')) {
    // `npm run bench -- --scale N`: the catalog and the listings at N assets (scale.mjs).
    const { benchScaleCommand } = await import('./scale.mjs');
    await benchScaleCommand(argv);
  } else if (argv[0] === 'generate') {
    const { generateCommand } = await import('./generate.mjs');
    await generateCommand(argv.slice(1));
  } else {
    const { benchCommand } = await import('./suite.mjs');
    await benchCommand(argv);
  }
} catch (error) {
  process.stderr.write(`bench: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
}
