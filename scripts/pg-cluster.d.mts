export interface Cluster {
  url: string;
  dir: string;
  port: number;
  stop(): void;
}
export function findPostgresBinaries():
  { dir: string; asPostgres: boolean } | { dir?: undefined; reason: string };
export function startCluster(options?: {
  port?: number;
  listen?: string;
  durable?: boolean;
}): Promise<Cluster>;
