import { execFileSync, spawnSync } from 'node:child_process';

/**
 * Hosts for the multi-host drill: Linux network namespaces joined by veth pairs to a bridge in this
 * (the test's) namespace, which carries the bridge address the PostgreSQL server listens on. Each host
 * runs its processes through `prefix(host)`: in its network namespace, with a UTS namespace of its own
 * (its own hostname, so workers are listed by host) and a mount namespace of its own (a bind mount
 * made there is seen by that host only). Made and removed with `ip`; we run as root.
 */
export interface NetHost {
  name: string;
  /** The host's address on the bridge. */
  address: string;
  /** The host side of its veth pair: `ip link set ... down` cuts the host off. */
  link: string;
  netns: string;
}

export interface Network {
  bridgeAddress: string;
  subnet: string;
  hosts: Map<string, NetHost>;
  /**
   * The command prefix that runs a program on `host` with hostname `host`; `mounts` are bind mounts
   * (source onto target) made in the host's own mount namespace first.
   */
  prefix(host: string, mounts?: readonly { source: string; target: string }[]): string[];
  cut(host: string): void;
  restore(host: string): void;
  /** Kills what still runs in the namespaces, removes them and their links, and the bridge. */
  teardown(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });

/** Why hosts cannot be made here (not root, no `ip netns`), or '' when they can. */
export function netnsSkipReason(): string {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  const probe = `akprobe${process.pid % 100000}`;
  const made = spawnSync('ip', ['netns', 'add', probe], { encoding: 'utf8' });
  if (made.status !== 0) return `ip netns add failed: ${(made.stderr || made.error?.message || '').trim()}`;
  spawnSync('ip', ['netns', 'del', probe]);
  if (spawnSync('unshare', ['--uts', '--mount', 'true']).status !== 0) return 'unshare --uts --mount failed';
  return '';
}

export function makeNetwork(hostNames: readonly string[]): Network {
  const tag = `ak${process.pid % 10000}`;
  const octet = 10 + (process.pid % 240);
  const subnet = `10.231.${octet}.0/24`;
  const bridge = `${tag}br`;
  const bridgeAddress = `10.231.${octet}.1`;
  const hosts = new Map<string, NetHost>();
  const network: Network = {
    bridgeAddress,
    subnet,
    hosts,
    prefix(host, mounts = []) {
      const h = hosts.get(host)!;
      const binds = mounts.map((m) => `mount --bind '${m.source}' '${m.target}' && `).join('');
      // Mounts made here stay in this host's namespace: `--propagation private` (unshare's default).
      return [
        'ip',
        'netns',
        'exec',
        h.netns,
        'unshare',
        '--uts',
        '--mount',
        'sh',
        '-c',
        `hostname '${host}' && ${binds}exec "$0" "$@"`,
      ];
    },
    cut: (host) => void ip('link', 'set', hosts.get(host)!.link, 'down'),
    restore: (host) => void ip('link', 'set', hosts.get(host)!.link, 'up'),
    teardown() {
      for (const h of hosts.values()) {
        const pids = spawnSync('ip', ['netns', 'pids', h.netns], { encoding: 'utf8' }).stdout;
        for (const pid of pids.split('\n').filter(Boolean)) {
          try {
            process.kill(Number(pid), 'SIGKILL');
          } catch {
            // gone
          }
        }
        // Removing the namespace removes its end of the veth pair, and with it the pair.
        spawnSync('ip', ['netns', 'del', h.netns]);
        spawnSync('ip', ['link', 'del', h.link]);
      }
      spawnSync('ip', ['link', 'del', bridge]);
    },
  };
  try {
    ip('link', 'add', 'name', bridge, 'type', 'bridge');
    ip('addr', 'add', `${bridgeAddress}/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    hostNames.forEach((name, i) => {
      const h: NetHost = {
        name,
        address: `10.231.${octet}.${10 + i}`,
        link: `${tag}h${i}`,
        netns: `${tag}-${name}`,
      };
      hosts.set(name, h);
      const inside = `${tag}n${i}`;
      ip('netns', 'add', h.netns);
      ip('link', 'add', h.link, 'type', 'veth', 'peer', 'name', inside);
      ip('link', 'set', inside, 'netns', h.netns);
      ip('link', 'set', h.link, 'master', bridge);
      ip('link', 'set', h.link, 'up');
      ip('-n', h.netns, 'addr', 'add', `${h.address}/24`, 'dev', inside);
      ip('-n', h.netns, 'link', 'set', inside, 'up');
      ip('-n', h.netns, 'link', 'set', 'lo', 'up');
    });
  } catch (error) {
    network.teardown();
    throw error;
  }
  return network;
}
