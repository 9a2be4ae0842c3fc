import path from 'node:path';
import { ExifTool } from 'exiftool-vendored';
import { findOnPath, messageOf, type ToolReport } from './tool.js';

export interface ExiftoolReport extends ToolReport {
  name: 'exiftool';
  /** The perl that runs exiftool on POSIX; null on Windows, where the vendored exiftool bundles its own. */
  perl: string | null;
}

/**
 * Starts exiftool once through exiftool-vendored, asks its version, and ends it. The instance is our own,
 * not the package's shared singleton: ending the singleton would break any later user in this process.
 */
export async function detectExiftool(): Promise<ExiftoolReport> {
  const exiftool = new ExifTool({ maxProcs: 1 });
  let location: string | null = null;
  const perl = perlFor(exiftool);
  try {
    location = await exiftool.exiftoolPath();
    const version = await exiftool.version();
    return { name: 'exiftool', version, path: location, source: sourceOf(location), perl, ok: true };
  } catch (error) {
    return {
      name: 'exiftool',
      version: null,
      path: location,
      source: location ? sourceOf(location) : null,
      perl,
      ok: false,
      problem: `exiftool does not run: ${messageOf(error)}`,
      hint:
        process.platform === 'win32'
          ? 'Reinstall the dependencies (`npm ci`).'
          : 'exiftool is a Perl program: install perl (`apt-get install perl`), then `npm ci`.',
    };
  } finally {
    // Without this the exiftool child keeps the CLI alive after it has printed its answer.
    await exiftool.end();
  }
}

function sourceOf(location: string): ToolReport['source'] {
  return location.split(path.sep).includes('node_modules') ? 'npm' : 'system';
}

function perlFor(exiftool: ExifTool): string | null {
  if (process.platform === 'win32') return null;
  // exiftool's shebang names /usr/bin/perl; exiftool-vendored switches to the PATH's perl when it is absent.
  return exiftool.options.ignoreShebang ? findOnPath('perl') : '/usr/bin/perl';
}
