export function removeWhenGone(pid: number, dirs: string[]): void;
