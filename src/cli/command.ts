/** What every command of the CLI shares: its shape, usage errors, flag parsing, output. */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ParseArgsConfig } from 'node:util';

/** A mistake in the command line: printed on one line with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The flags of a command, for `node:util` `parseArgs`. */
export type Options = NonNullable<ParseArgsConfig['options']>;

/** Parsed flag values. */
export type Values = Record<string, string | boolean | undefined>;

/** A command line, parsed. */
export interface CommandInput {
  readonly values: Values;
  /** Arguments that are not flags (before `--` for a command that takes a command). */
  readonly positionals: readonly string[];
  /** What follows `--`, for a command that takes a command (`run`); otherwise empty. */
  readonly command: readonly string[];
}

/** One command of the CLI. */
export interface Command {
  /** One line for the list of commands. */
  readonly summary: string;
  /** The text of `--help`. */
  readonly usage: string;
  /** Its flags (`--help` is added to every command). */
  readonly options: Options;
  /** Whether `-- COMMAND [ARGS…]` follows the flags. */
  readonly takesCommand?: boolean;
  /** Resolves to the exit code. */
  run(input: CommandInput): Promise<number>;
}

/** Prints a line on standard output. */
export const write = (line: string): void => void process.stdout.write(`${line}\n`);

/** A whole number of milliseconds from a flag, or `fallback` when the flag is absent. */
export function milliseconds(values: Values, flag: string, fallback: number): number;
export function milliseconds(values: Values, flag: string): number | undefined;
export function milliseconds(values: Values, flag: string, fallback?: number): number | undefined {
  const raw = values[flag];
  if (raw === undefined) return fallback;
  if (typeof raw !== 'string' || !/^\d+$/.test(raw) || Number(raw) < 1) {
    throw new UsageError(`--${flag} must be a positive whole number of milliseconds, received "${String(raw)}"`);
  }
  return Number(raw);
}

/** The value of a string flag, if given. */
export function stringFlag(values: Values, flag: string): string | undefined {
  const value = values[flag];
  return typeof value === 'string' ? value : undefined;
}

/** This node's name in an election: the `--node` flag, or HOST-PID-RANDOM. */
export function nodeFlag(values: Values): string {
  return stringFlag(values, 'node') ?? `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
}

/** The election named by the only positional argument; `required` says whether it may be missing. */
export function electionArgument(input: CommandInput, required: true): string;
export function electionArgument(input: CommandInput, required: false): string | undefined;
export function electionArgument(input: CommandInput, required: boolean): string | undefined {
  const [name, extra] = input.positionals;
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  if (name === undefined && required) throw new UsageError('missing the election NAME');
  if (name !== undefined && (name.length === 0 || [...name].length > 255))
    throw new UsageError(`the election NAME must be 1 to 255 characters long, received ${[...name].length}`);
  return name;
}
