/**
 * Each integration test file works in a database of its own on the server
 * named by MYSQL_URL (a private MariaDB started by `npm test`).
 */
import { randomBytes } from 'node:crypto';
import { after } from 'node:test';
import { createPool, type Pool, type PoolOptions } from 'mysql2/promise';

/** The server the tests run against. */
export function serverUrl(): string {
  const url = process.env['MYSQL_URL'];
  if (!url) throw new Error('MYSQL_URL is not set: run the tests with `npm test`, which starts a private MariaDB');
  return url;
}

/** A database of the test file's own, with a url and pools that are closed after the file. */
export interface TestDatabase {
  /** The database name. */
  readonly name: string;
  /** `mysql://…/name` */
  readonly url: string;
  /** A pool on the database, ended after the file. */
  readonly pool: Pool;
  /** Another pool on the database (ended after the file). */
  newPool(options?: PoolOptions): Pool;
}

/** Runs one statement on the server, outside any test database. */
export async function adminQuery(sql: string): Promise<void> {
  const admin = createPool({ uri: serverUrl(), connectionLimit: 1 });
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

/**
 * Creates a database named after `label` (call it at the top of a test
 * file, with `await`) and drops it after the file's tests.
 */
export async function useDatabase(label: string): Promise<TestDatabase> {
  const name = `mlt_${label.replace(/\W/g, '_')}_${randomBytes(3).toString('hex')}`;
  const url = new URL(serverUrl());
  url.pathname = `/${name}`;
  await adminQuery(`CREATE DATABASE \`${name}\``);
  const pools: Pool[] = [];
  const newPool = (options: PoolOptions = {}): Pool => {
    const pool = createPool({ uri: url.toString(), connectionLimit: 4, ...options });
    pools.push(pool);
    return pool;
  };
  const pool = newPool();
  after(async () => {
    await Promise.all(pools.splice(0).map((p) => p.end()));
    await adminQuery(`DROP DATABASE IF EXISTS \`${name}\``);
  });
  return { name, url: url.toString(), pool, newPool };
}
