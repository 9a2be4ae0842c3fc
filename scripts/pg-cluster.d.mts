export interface Cluster {
  url: string;
  dir: string;
  port: number;
  stop(): void;
  kill(): void;
  restart(): void;
}
export function findPostgresBinaries():
  { dir: string; asPostgres: boolean } | { dir?: undefined; reason: string };
export function startCluster(options?: {
  port?: number;
  listen?: string;
  durable?: boolean;
  /** A network (CIDR) whose clients are trusted too, beside loopback. */
  trust?: string;
}): Promise<Cluster>;
